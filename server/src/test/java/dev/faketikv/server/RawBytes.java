package dev.faketikv.server;

import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

/** A gRPC marshaller that sends and receives bytes as they are: for sending garbage as a request message. */
public final class RawBytes implements MethodDescriptor.Marshaller<byte[]> {
    /** The method {@code fullName} of kind {@code type}, with byte-array messages both ways. */
    public static MethodDescriptor<byte[], byte[]> method(String fullName, MethodDescriptor.MethodType type) {
        return MethodDescriptor.<byte[], byte[]>newBuilder().setType(type).setFullMethodName(fullName)
                .setRequestMarshaller(new RawBytes()).setResponseMarshaller(new RawBytes()).build();
    }

    @Override
    public InputStream stream(byte[] value) {
        return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
        try {
            return stream.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
