package dev.faketikv.server.config;

/** A configuration value that is missing, malformed or out of range; the message names the key. */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
