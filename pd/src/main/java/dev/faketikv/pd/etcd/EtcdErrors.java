package dev.faketikv.pd.etcd;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * The gRPC errors etcd's v3 API answers, with etcd's own codes and texts: etcd v3.4
 * {@code etcdserver/api/v3rpc/rpctypes/error.go} ({@code ErrGRPCEmptyKey} … {@code ErrGRPCLeaseTTLTooLarge}),
 * the ones the subset served here can give.
 */
final class EtcdErrors {
    private EtcdErrors() {
    }

    static StatusRuntimeException emptyKey() {
        return Status.INVALID_ARGUMENT.withDescription("etcdserver: key is not provided").asRuntimeException();
    }

    static StatusRuntimeException keyNotFound() {
        return Status.INVALID_ARGUMENT.withDescription("etcdserver: key not found").asRuntimeException();
    }

    static StatusRuntimeException valueProvided() {
        return Status.INVALID_ARGUMENT.withDescription("etcdserver: value is provided").asRuntimeException();
    }

    static StatusRuntimeException leaseProvided() {
        return Status.INVALID_ARGUMENT.withDescription("etcdserver: lease is provided").asRuntimeException();
    }

    static StatusRuntimeException tooManyOps() {
        return Status.INVALID_ARGUMENT.withDescription("etcdserver: too many operations in txn request").asRuntimeException();
    }

    static StatusRuntimeException duplicateKey() {
        return Status.INVALID_ARGUMENT.withDescription("etcdserver: duplicate key given in txn request").asRuntimeException();
    }

    static StatusRuntimeException compacted() {
        return Status.OUT_OF_RANGE.withDescription("etcdserver: mvcc: required revision has been compacted").asRuntimeException();
    }

    static StatusRuntimeException futureRev() {
        return Status.OUT_OF_RANGE.withDescription("etcdserver: mvcc: required revision is a future revision").asRuntimeException();
    }

    static StatusRuntimeException leaseNotFound() {
        return Status.NOT_FOUND.withDescription("etcdserver: requested lease not found").asRuntimeException();
    }

    static StatusRuntimeException leaseExists() {
        return Status.FAILED_PRECONDITION.withDescription("etcdserver: lease already exists").asRuntimeException();
    }

    static StatusRuntimeException leaseTtlTooLarge() {
        return Status.OUT_OF_RANGE.withDescription("etcdserver: too large lease TTL").asRuntimeException();
    }
}
