package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.importer.SstImporter;
import java.security.SecureRandom;
import java.util.List;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.ImportSstpb;

/** The restore side of a cloud backend: ImportSST's Download of backed-up files, through the store's importer. */
final class Restores {
    private Restores() {}

    static ImportSstpb.SSTMeta meta(Brpb.File f, long length) {
        byte[] uuid = new byte[16];
        new SecureRandom().nextBytes(uuid);
        return ImportSstpb.SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setLength(length).setCfName(f.getCf())
                .setEndKeyExclusive(true).build();
    }

    /** Downloads every listed file from {@code backend}: each is read whole, checked as an SST and staged, then discarded. */
    static void downloadEvery(FakeTikvServer server, List<BackupResponse> responses, Brpb.StorageBackend backend) throws Exception {
        SstImporter importer = server.importer();
        int n = 0;
        for (BackupResponse r : responses) {
            for (Brpb.File f : r.getFilesList()) {
                ImportSstpb.SSTMeta m = meta(f, f.getSize());
                SstImporter.Downloaded d = importer.download(m, f.getName(), ImportSstpb.RewriteRule.getDefaultInstance(), backend,
                        false, Brpb.CipherInfo.getDefaultInstance(), () -> false);
                assertThat(d.empty()).as(f.getName()).isFalse();
                assertThat(d.length()).as(f.getName()).isPositive();
                importer.discard(m.getUuid().toByteArray());
                n++;
            }
        }
        assertThat(n).isPositive();
    }

    /** A file that is not there fails the Download with a message naming the storage's error. */
    static void missingFileFails(FakeTikvServer server, List<BackupResponse> responses, Brpb.StorageBackend backend) {
        Brpb.File f = responses.get(0).getFiles(0);
        assertThatThrownBy(() -> server.importer().download(meta(f, f.getSize()), "no-such-file.sst",
                ImportSstpb.RewriteRule.getDefaultInstance(), backend, false, Brpb.CipherInfo.getDefaultInstance(), () -> false))
                .isInstanceOf(SstImporter.ImportException.class);
    }
}
