package dev.faketikv.client;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * Checks a whole backup of one request against local storage: every listed file through
 * {@link BackupVerifier}, and the response ranges through a {@link RangeTree} (no overlap, no gap inside
 * the requested range). Error responses count as problems.
 */
public final class BackupCheck {
    private BackupCheck() {}

    /** Every file checked, and every problem found (empty when the backup is complete and right). */
    public record Report(List<BackupVerifier.FileCheck> files, List<String> problems) {
        public long verifiedFiles() {
            return files.stream().filter(BackupVerifier.FileCheck::ok).count();
        }
    }

    public static Report run(BackupRequest req, List<BackupResponse> responses, Path dir) {
        BackupVerifier v = new BackupVerifier(dir, req.hasCipherInfo() ? req.getCipherInfo() : null, req.getIsRawKv(),
                req.getStartVersion(), req.getEndVersion());
        RangeTree tree = new RangeTree();
        List<BackupVerifier.FileCheck> files = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (BackupResponse r : responses) {
            if (r.hasError()) {
                problems.add("error response: " + r.getError().toString().replace('\n', ' ').trim());
                continue;
            }
            tree.add(r.getStartKey().toByteArray(), r.getEndKey().toByteArray());
            for (BackupVerifier.FileCheck c : v.verify(r)) {
                files.add(c);
                c.problems().forEach(p -> problems.add(c.name() + ": " + p));
            }
        }
        problems.addAll(tree.overlaps());
        for (byte[][] gap : tree.gaps(req.getStartKey().toByteArray(), req.getEndKey().toByteArray())) {
            problems.add("range not covered: " + hex(gap[0]) + ".." + hex(gap[1]));
        }
        return new Report(files, problems);
    }

    private static String hex(byte[] b) {
        return b.length == 0 ? "(inf)" : HexFormat.of().formatHex(b);
    }
}
