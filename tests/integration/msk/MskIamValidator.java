// A stand-in for Amazon MSK's IAM authentication, for the tests only
// (tests/integration/test_msk_iam.py): a Kafka broker's SASL/OAUTHBEARER
// server callback handler that accepts a token only when it is an MSK IAM
// token (base64url of a presigned kafka-cluster:Connect URL) whose SigV4
// signature recomputes with the test's secret key, whose action, region,
// service and host are right, and which has not expired. Compiled at test
// time with javac against the broker's jars (deploy/local/lib).
//
// Environment: MSK_TEST_SECRET (the secret key), MSK_TEST_REGION, and
// MSK_TEST_LOG, a file that gets one line per token seen:
// "OK <sha256 of token, 16 hex> <expiry ms> <lifetime s>" or
// "REJECT <reason>".
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.*;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

public class MskIamValidator implements AuthenticateCallbackHandler {
    private String secret, region, logPath;

    @Override
    public void configure(Map<String, ?> configs, String mechanism,
                          List<AppConfigurationEntry> entries) {
        secret = System.getenv("MSK_TEST_SECRET");
        region = System.getenv("MSK_TEST_REGION");
        logPath = System.getenv("MSK_TEST_LOG");
    }

    @Override
    public void close() {}

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback cb : callbacks) {
            if (cb instanceof OAuthBearerValidatorCallback) {
                validate((OAuthBearerValidatorCallback) cb);
            } else if (cb instanceof OAuthBearerExtensionsValidatorCallback) {
                OAuthBearerExtensionsValidatorCallback e =
                    (OAuthBearerExtensionsValidatorCallback) cb;
                e.inputExtensions().map().keySet().forEach(e::valid);
            } else {
                throw new UnsupportedCallbackException(cb);
            }
        }
    }

    private synchronized void log(String line) {
        try (FileWriter w = new FileWriter(logPath, true)) {
            w.write(line + "\n");
        } catch (Exception ignored) {
        }
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    private static byte[] hmac(byte[] key, String data) throws Exception {
        Mac m = Mac.getInstance("HmacSHA256");
        m.init(new SecretKeySpec(key, "HmacSHA256"));
        return m.doFinal(data.getBytes(StandardCharsets.UTF_8));
    }

    private static String sha256(String s) throws Exception {
        return hex(MessageDigest.getInstance("SHA-256")
                       .digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    private void validate(OAuthBearerValidatorCallback cb) {
        String why;
        try {
            why = check(cb);
        } catch (Exception e) {
            why = "malformed token: " + e.getClass().getSimpleName();
        }
        if (why != null) {
            log("REJECT " + why);
            cb.error("invalid_token", null, null);
        }
    }

    /** null when accepted (cb.token set), else why not. */
    private String check(OAuthBearerValidatorCallback cb) throws Exception {
        String token = cb.tokenValue();
        String url = new String(Base64.getUrlDecoder().decode(token),
                                StandardCharsets.UTF_8);
        String prefix = "https://kafka." + region + ".amazonaws.com/?";
        if (!url.startsWith(prefix)) return "wrong host or scheme";
        Map<String, String> q = new TreeMap<>();
        List<String> signed = new ArrayList<>();
        for (String pair : url.substring(prefix.length()).split("&")) {
            int eq = pair.indexOf('=');
            String k = pair.substring(0, eq), v = pair.substring(eq + 1);
            q.put(k, v);
            if (!k.equals("X-Amz-Signature") && !k.equals("User-Agent"))
                signed.add(pair);
        }
        if (!"kafka-cluster%3AConnect".equals(q.get("Action"))) return "wrong action";
        if (!"AWS4-HMAC-SHA256".equals(q.get("X-Amz-Algorithm"))) return "wrong algorithm";
        if (!"host".equals(q.get("X-Amz-SignedHeaders"))) return "wrong signed headers";
        String date = q.get("X-Amz-Date");
        String[] cred = java.net.URLDecoder.decode(q.get("X-Amz-Credential"),
                                                   StandardCharsets.UTF_8).split("/");
        if (cred.length != 5 || !cred[1].equals(date.substring(0, 8))
            || !cred[2].equals(region) || !cred[3].equals("kafka-cluster")
            || !cred[4].equals("aws4_request"))
            return "wrong credential scope";
        long signedAt = ZonedDateTime.parse(date,
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssX")).toEpochSecond() * 1000;
        long expires = signedAt + Long.parseLong(q.get("X-Amz-Expires")) * 1000;
        long now = System.currentTimeMillis();
        if (signedAt > now + 300_000) return "signed in the future";
        if (expires <= now) return "expired";
        Collections.sort(signed);
        String creq = "GET\n/\n" + String.join("&", signed) + "\nhost:kafka."
            + region + ".amazonaws.com\n\nhost\n" + sha256("");
        String scope = cred[1] + "/" + region + "/kafka-cluster/aws4_request";
        String sts = "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + sha256(creq);
        byte[] k = hmac(("AWS4" + secret).getBytes(StandardCharsets.UTF_8), cred[1]);
        k = hmac(k, region);
        k = hmac(k, "kafka-cluster");
        k = hmac(k, "aws4_request");
        String sig = hex(hmac(k, sts));
        if (!MessageDigest.isEqual(sig.getBytes(StandardCharsets.US_ASCII),
                                   String.valueOf(q.get("X-Amz-Signature"))
                                       .getBytes(StandardCharsets.US_ASCII)))
            return "signature does not match";
        final String principal = cred[0];
        final long start = signedAt, end = expires;
        cb.token(new OAuthBearerToken() {
            public String value() { return token; }
            public Set<String> scope() { return Collections.emptySet(); }
            public long lifetimeMs() { return end; }
            public String principalName() { return principal; }
            public Long startTimeMs() { return start; }
        });
        log("OK " + sha256(token).substring(0, 16) + " " + end + " "
            + q.get("X-Amz-Expires"));
        return null;
    }
}
