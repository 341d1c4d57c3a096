package dev.faketikv.engine.codec;

/** A byte sequence that is not valid in the codec it was read with. */
public class CodecException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CodecException(String message) {
        super(message);
    }
}
