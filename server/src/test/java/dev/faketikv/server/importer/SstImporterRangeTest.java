package dev.faketikv.server.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The requested range mapped back to the SST's own prefix, case for case as TiKV's
 * {@code rewrite_prefix_of_start_bound} / {@code _end_bound} (components/keys/src/rewrite.rs) map them.
 */
class SstImporterRangeTest {
    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static String s(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /** (start, end, exclusive) requested in the new prefix's space, described in the old one's. */
    static String map(String start, String end, boolean exclusive, String oldP, String newP) throws Exception {
        SstImporter.OldRange r = SstImporter.oldRange(b(start), b(end), exclusive, b(oldP), b(newP));
        return s(r.start()) + "|" + s(r.end()) + "|" + (r.endExclusive() ? "excl" : "incl");
    }

    @Test
    void boundsWithTheNewPrefixGetTheOldOne() throws Exception {
        // a rule t123 -> t456: the request speaks t456, the SST holds t123
        assertThat(map("t456456", "t456789", false, "t123", "t456")).isEqualTo("t123456|t123789|incl");
        assertThat(map("t456456", "t456789", true, "t123", "t456")).isEqualTo("t123456|t123789|excl");
        assertThat(map("t456789", "", true, "t123", "t456")).isEqualTo("t123789||excl");
        assertThat(map("", "", true, "t123", "t456")).isEqualTo("||excl");
        // the exclusive successor of the new prefix is the successor of the old one
        assertThat(map("t456", "t457", true, "t123", "t456")).isEqualTo("t123|t124|excl");
        assertThat(map("\u00ff\u00ff", "", true, "\u00ff\u00fe", "\u00ff\u00ff")).isEqualTo("\u00ff\u00fe||excl");
        assertThat(map("\u00ff\u00fe", "\u00ff\u00ff", true, "\u00ff\u00ff", "\u00ff\u00fe")).isEqualTo("\u00ff\u00ff||excl");
    }

    @Test
    void anEmptyNewPrefixBoundsTheRangeToTheOldPrefix() throws Exception {
        assertThat(map("321", "987", false, "t654", "")).isEqualTo("t654321|t654987|incl");
        assertThat(map("", "", true, "t654", "")).isEqualTo("t654|t655|excl");
        assertThat(map("", "", true, "", "")).isEqualTo("||excl");
    }

    @Test
    void boundsWithoutTheNewPrefixAreRefused() {
        assertThatThrownBy(() -> map("t455", "t456999", false, "t123", "t456")).hasMessageContaining("SST start range");
        assertThatThrownBy(() -> map("t456", "t457", false, "t123", "t456")).hasMessageContaining("SST end range");
        assertThatThrownBy(() -> map("t456", "t458", true, "t123", "t456")).hasMessageContaining("SST end range");
        assertThatCode(() -> map("\u00ff\u00ff", "\u00ff\u00ff\u00ff", true, "\u00ff\u00fe", "\u00ff\u00ff")).doesNotThrowAnyException();
    }
}
