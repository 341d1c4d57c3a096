package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.br.BrException;
import dev.faketikv.client.br.BrStorage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;

/** {@code br -s gcs://...} / {@code azure://...} as BR 5.4's ParseBackend reads them. */
class BrCloudUrlTest {
    @TempDir
    Path tmp;

    @Test
    void gcsUrlsTakeFlagsThenQueryAndSendTheCredentialsFile() throws Exception {
        Path cred = Files.writeString(tmp.resolve("sa.json"), "{\"type\":\"service_account\"}");
        BrStorage s = BrStorage.parse("gcs://my-bucket/backups/full/?endpoint=http://127.0.0.1:9/storage/v1/&storage_class=NEARLINE",
                Map.of("endpoint", "http://flag", "predefined-acl", "private", "credentials-file", cred.toString()), k -> null, null);
        Brpb.GCS g = s.backend().getGcs();
        assertThat(g.getBucket()).isEqualTo("my-bucket");
        assertThat(g.getPrefix()).isEqualTo("backups/full");
        assertThat(g.getEndpoint()).as("the query wins over the flag").isEqualTo("http://127.0.0.1:9/storage/v1/");
        assertThat(g.getStorageClass()).isEqualTo("NEARLINE");
        assertThat(g.getPredefinedAcl()).isEqualTo("private");
        assertThat(g.getCredentialsBlob()).isEqualTo("{\"type\":\"service_account\"}");
        assertThat(s.cloud()).isTrue();
        assertThat(s.noop()).isFalse();
        assertThatThrownBy(() -> s.read("backupmeta")).isInstanceOf(BrException.class).hasMessageContaining("no object access");
        assertThat(BrStorage.parse("gs://b", Map.of(), k -> null, null).backend().getGcs().getPrefix()).isEmpty();
    }

    @Test
    void azureUrlsTakeTheEnvironmentsKeyAndHideTheQuery() {
        Map<String, String> env = Map.of("AZURE_STORAGE_ACCOUNT", "acct", "AZURE_STORAGE_KEY", "a2V5");
        BrStorage s = BrStorage.parse("azure://container/p?access-tier=Cool", Map.of("endpoint", "http://127.0.0.1:10000/acct"), env::get, null);
        Brpb.AzureBlobStorage a = s.backend().getAzureBlobStorage();
        assertThat(a.getBucket()).isEqualTo("container");
        assertThat(a.getPrefix()).isEqualTo("p");
        assertThat(a.getStorageClass()).isEqualTo("Cool");
        assertThat(a.getAccountName()).isEqualTo("acct");
        assertThat(a.getSharedKey()).isEqualTo("a2V5");
        BrStorage withKey = BrStorage.parse("azblob://c/x?account-name=n&account-key=c2VjcmV0", Map.of(), k -> null, null);
        assertThat(withKey.backend().getAzureBlobStorage().getSharedKey()).isEqualTo("c2VjcmV0");
        assertThat(withKey.url()).isEqualTo("azblob://c/x").doesNotContain("c2VjcmV0");
        assertThatThrownBy(() -> BrStorage.parse("azure://c/x", Map.of(), k -> null, null))
                .hasMessage("account name cannot be empty to access azure blob storage");
        assertThatThrownBy(() -> BrStorage.parse("azure://c/x", Map.of("account-name", "n"), k -> null, null))
                .hasMessage("cannot find any credential info to access azure blob storage");
    }
}
