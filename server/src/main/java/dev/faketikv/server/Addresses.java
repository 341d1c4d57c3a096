package dev.faketikv.server;

import dev.faketikv.server.config.TikvConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * {@code host:port} strings as TiKV's config writes them ({@code server.addr}, {@code server.advertise-addr},
 * {@code server.status-addr}, {@code pd-addr}): IPv6 literals in brackets, port 0 for "any free port".
 * Stateless.
 */
public final class Addresses {
    private Addresses() {
    }

    /** {@code host:port} (IPv6 literal in brackets or not) as a socket address, unresolved host kept as given. */
    public static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /** {@code host:port}, with an IPv6 literal in brackets. */
    public static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }

    /** The host clients are told: {@code server.advertise-addr}'s, else {@code server.addr}'s. */
    public static String advertisedHost(TikvConfig config) {
        String adv = config.get(TikvConfig.ADVERTISE_ADDR);
        return parse(adv.isEmpty() ? config.get(TikvConfig.SERVER_ADDR) : adv).getHostString();
    }

    /** Whether {@code host} is a wildcard (0.0.0.0 or ::) that no client can dial. */
    public static boolean wildcard(String host) {
        try {
            return InetAddress.getByName(host).isAnyLocalAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
