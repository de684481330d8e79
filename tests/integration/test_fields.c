/*
 * fields: every MonoSecret field the user writes, against the real API
 * server and pamsim: dataFrom extraction and its clash rules, every vault
 * type and property, byte-exact values, refreshInterval in all its forms
 * (and how often PAM is asked), Secret key rules, and the template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "suites.h"
#include "util.h"

#define KEY "5e8a1c2d-f1e1-4d00-9000-00000000f1e1"
#define V(n) "f1e10000-0000-4000-8000-0000000000" n
#define V_TEXT  V("01")
#define V_UP    V("02")
#define V_UPD   V("03")
#define V_PKI   V("04")
#define V_OTP   V("05")
#define V_UTF8  V("06")
#define V_ESC   V("07")
#define V_CTL   V("08")
#define V_EMPTY V("09")
#define V_ONCE  V("10")
#define V_BADKEY V("11")
#define V_TPL   V("12")
#define V_R(n)  V("2" n)      /* refreshInterval forms, one vault each */

#define TEXT "text-Fq2-value"
#define UP_PASS "up-pass-Fq2"
#define UPD_PASS "upd-pass-Fq2"
#define PKI_PASS "pki-pass-Fq2"
#define OTP_SEED "JBSWY3DPEHPK3PXP"
#define PEM "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFq2+/=\n" \
    "-----END PRIVATE KEY-----\n"
#define PEM_JSON "-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFq2+/=" \
    "\\n-----END PRIVATE KEY-----\\n"
#define UTF8 "p\xc3\xa4ssw\xc3\xb6rd-\xe6\x97\xa5\xe6\x9c\xac-Fq2"
/* JSON escapes, and the bytes they stand for */
#define ESC_JSON "\\u00e9\\u00df\\u65e5\\ud83d\\ude00-Fq2"
#define ESC "\xc3\xa9\xc3\x9f\xe6\x97\xa5\xf0\x9f\x98\x80-Fq2"
#define CTL_JSON "a\\tb\\u0001c\\u001fd\\be\\ff\\rg\\nh\\\"i\\\\j\\/k"
#define CTL "a\tb\x01" "c\x1f" "d\be\ff\rg\nh\"i\\j/k"

static struct pamsim pam;
static struct manager mgr;

static void vault(FILE *f, const char *id, const char *type, const char *props)
{
	fprintf(f, "%s{\"id\":\"%s\",\"type\":\"%s\",\"properties\":{%s}}",
	    ftell(f) > 12 ? "," : "", id, type, props);
}

static char *vaults(void)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	fputs("{\"vaults\":[", f);
	vault(f, V_TEXT, "SecretText", "\"SecretText\":\"" TEXT "\"");
	vault(f, V_UP, "UserNamePassword", "\"UserName\":\"fq-user\",\"Password\":\"" UP_PASS "\"");
	vault(f, V_UPD, "UserNamePasswordDomain", "\"UserName\":\"fq-duser\",\"Password\":\""
	    UPD_PASS "\",\"Domain\":\"CORP\"");
	vault(f, V_PKI, "PKI", "\"UserName\":\"pki-user\",\"PrivateKey\":\"" PEM_JSON "\","
	    "\"Passphrase\":\"" PKI_PASS "\"");
	fputs(",{\"id\":\"" V_OTP "\",\"type\":\"OTP\",\"otpSecret\":\"" OTP_SEED "\"}", f);
	vault(f, V_UTF8, "SecretText", "\"SecretText\":\"" UTF8 "\"");
	vault(f, V_ESC, "SecretText", "\"SecretText\":\"" ESC_JSON "\"");
	vault(f, V_CTL, "SecretText", "\"SecretText\":\"" CTL_JSON "\"");
	vault(f, V_EMPTY, "SecretText", "\"SecretText\":\"\"");
	vault(f, V_ONCE, "SecretText", "\"SecretText\":\"once-Fq2\"");
	vault(f, V_BADKEY, "SecretText", "\"SecretText\":\"badkey-Fq2\"");
	vault(f, V_TPL, "SecretText", "\"SecretText\":\"tpl-Fq2\"");
	for (char c = '0'; c <= '9'; c++) {
		char id[64], val[64];
		snprintf(id, sizeof(id), V("2%c"), c);
		snprintf(val, sizeof(val), "\"SecretText\":\"refresh-%c\"", c);
		vault(f, id, "SecretText", val);
	}
	fputs("]}", f);
	fclose(f);
	return s;
}

static void setup(void)
{
	char *v = vaults();

	pamsim_start(&pam, v, KEY);
	free(v);
	manager_start(&mgr, "--workers=2");
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, TEXT, UP_PASS, UPD_PASS, PKI_PASS,
	    "MIGHAgEAMBMGByqGSM49", UTF8, "badkey-Fq2", "once-Fq2", NULL };

	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
	assert_file_lacks(pam.log, secrets);
}

/* value_eq - .data[key] decodes to exactly the len bytes of want. */
static void value_eq(const char *ns, const char *secret, const char *key, const char *want,
    size_t len)
{
	char *b64 = secret_b64(ns, secret, key), *exp = util_b64_encode(want, len);

	ck_assert_msg(strcmp(b64, exp) == 0, "Secret %s/%s key %s: base64 %s, wanted %s", ns,
	    secret, key, b64, exp);
	free(b64);
	free(exp);
}
#define VALUE_EQ(ns, s, k, lit) value_eq(ns, s, k, lit, sizeof(lit) - 1)

START_TEST(extract_gives_every_property_and_data_wins)
{
	char *ns = ns_with_store("f-extract", &pam, KEY);
	static const char *const clash[] = { "spec.dataFrom[1].extract", "\"UserName\"", NULL };

	ck_assert_int_eq(msec_apply(ns, "extract",
	    "  target: {name: extract}\n"
	    "  dataFrom:\n  - extract: {vaultID: \"" V_UPD "\"}\n"
	    "  data:\n  - {secretKey: Password, remoteRef: {vaultID: \"" V_TEXT "\"}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "one-prop",
	    "  target: {name: one-prop}\n"
	    "  dataFrom:\n  - extract: {vaultID: \"" V_UPD "\", property: Domain}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "two-extracts",
	    "  target: {name: two-extracts}\n"
	    "  dataFrom:\n  - extract: {vaultID: \"" V_UP "\"}\n"
	    "  - extract: {vaultID: \"" V_UPD "\"}\n"), 0);

	wait_ready(ns, "msec", "extract", "True/Synced", 8000);
	/* no prefix; data[] Password (from the SecretText vault) beats the extract */
	assert_str_free(secret_keys(ns, "extract"), "Domain,Password,UserName");
	VALUE_EQ(ns, "extract", "UserName", "fq-duser");
	VALUE_EQ(ns, "extract", "Domain", "CORP");
	VALUE_EQ(ns, "extract", "Password", TEXT);

	wait_ready(ns, "msec", "one-prop", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "one-prop"), "Domain");
	VALUE_EQ(ns, "one-prop", "Domain", "CORP");

	expect_failure(ns, "msec", "two-extracts", "DuplicateKey", clash, 8000);
	assert_str_free(kq_obj(ns, "secret", "two-extracts", "o"), "<absent>");
	ns_done(ns);
}
END_TEST

/* totp_codes - RFC 6238 codes of seed for every 30 s step in [t0, t1]. */
static char *totp_codes(const char *seed, time_t t0, time_t t1)
{
	return sh_out("python3 -c 'import base64,hmac,hashlib,struct\n"
	    "k=base64.b32decode(\"%s\")\nout=[]\n"
	    "for s in range(%lld//30, %lld//30+1):\n"
	    " h=hmac.new(k,struct.pack(\">Q\",s),hashlib.sha1).digest();o=h[-1]&15\n"
	    " out.append(\"%%06d\"%%((struct.unpack(\">I\",h[o:o+4])[0]&0x7fffffff)%%1000000))\n"
	    "print(\",\".join(out))'", seed, (long long)t0, (long long)t1);
}

START_TEST(every_vault_type_and_property)
{
	char *ns = ns_with_store("f-types", &pam, KEY);
	static const char *const need[] = { "spec.data[0].remoteRef.property",
	    "UserNamePassword", NULL };
	static const char *const unk[] = { "\"Password\"", "vault type SecretText", NULL };
	static const char *const unk_otp[] = { "\"Secret\"", "vault type OTP", NULL };
	long before[5];
	const char *ids[5] = { V_TEXT, V_UP, V_UPD, V_PKI, V_OTP };
	time_t t0 = time(NULL);

	for (int i = 0; i < 5; i++)
		before[i] = pamsim_count(&pam, ids[i]);
	ck_assert_int_eq(msec_apply(ns, "all-types",
	    "  target: {name: all-types}\n  data:\n"
	    "  - {secretKey: text, remoteRef: {vaultID: \"" V_TEXT "\", property: SecretText}}\n"
	    "  - {secretKey: text-implicit, remoteRef: {vaultID: \"" V_TEXT "\"}}\n"
	    "  - {secretKey: up-user, remoteRef: {vaultID: \"" V_UP "\", property: UserName}}\n"
	    "  - {secretKey: up-pass, remoteRef: {vaultID: \"" V_UP "\", property: Password}}\n"
	    "  - {secretKey: upd-user, remoteRef: {vaultID: \"" V_UPD "\", property: UserName}}\n"
	    "  - {secretKey: upd-pass, remoteRef: {vaultID: \"" V_UPD "\", property: Password}}\n"
	    "  - {secretKey: upd-domain, remoteRef: {vaultID: \"" V_UPD "\", property: Domain}}\n"
	    "  - {secretKey: pki-user, remoteRef: {vaultID: \"" V_PKI "\", property: UserName}}\n"
	    "  - {secretKey: pki-key, remoteRef: {vaultID: \"" V_PKI "\", property: PrivateKey}}\n"
	    "  - {secretKey: pki-pass, remoteRef: {vaultID: \"" V_PKI "\", property: Passphrase}}\n"
	    "  - {secretKey: otp, remoteRef: {vaultID: \"" V_OTP "\", property: Code}}\n"
	    "  - {secretKey: otp-implicit, remoteRef: {vaultID: \"" V_OTP "\"}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "need-prop", "  target: {name: need-prop}\n  data:\n"
	    "  - {secretKey: x, remoteRef: {vaultID: \"" V_UP "\"}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "unknown-prop", "  target: {name: unknown-prop}\n  data:\n"
	    "  - {secretKey: x, remoteRef: {vaultID: \"" V_TEXT "\", property: Password}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "unknown-otp", "  target: {name: unknown-otp}\n  data:\n"
	    "  - {secretKey: x, remoteRef: {vaultID: \"" V_OTP "\", property: Secret}}\n"), 0);

	wait_ready(ns, "msec", "all-types", "True/Synced", 8000);
	time_t t1 = time(NULL);
	assert_str_free(secret_keys(ns, "all-types"), "otp,otp-implicit,pki-key,pki-pass,pki-user,"
	    "text,text-implicit,up-pass,up-user,upd-domain,upd-pass,upd-user");
	VALUE_EQ(ns, "all-types", "text", TEXT);
	VALUE_EQ(ns, "all-types", "text-implicit", TEXT);
	VALUE_EQ(ns, "all-types", "up-user", "fq-user");
	VALUE_EQ(ns, "all-types", "up-pass", UP_PASS);
	VALUE_EQ(ns, "all-types", "upd-user", "fq-duser");
	VALUE_EQ(ns, "all-types", "upd-pass", UPD_PASS);
	VALUE_EQ(ns, "all-types", "upd-domain", "CORP");
	VALUE_EQ(ns, "all-types", "pki-user", "pki-user");
	VALUE_EQ(ns, "all-types", "pki-key", PEM);
	VALUE_EQ(ns, "all-types", "pki-pass", PKI_PASS);

	/* the code PAM computed at that moment: six digits, RFC 6238 of the seed */
	char *otp = secret_value(ns, "all-types", "otp");
	char *otp2 = secret_value(ns, "all-types", "otp-implicit");
	char *codes = totp_codes(OTP_SEED, t0, t1);
	ck_assert_int_eq((int)strlen(otp), 6);
	ck_assert_int_eq((int)strspn(otp, "0123456789"), 6);
	ck_assert_msg(strstr(codes, otp) != NULL, "code %s is not the TOTP of [%s]", otp, codes);
	ck_assert_str_eq(otp, otp2);   /* one vault, fetched once */
	free(otp); free(otp2); free(codes);
	/* each distinct vault was asked for this MonoSecret, and once only
	 * (PKI: no other MonoSecret uses it before the next test) */
	for (int i = 0; i < 5; i++)
		ck_assert_int_ge(pamsim_count(&pam, ids[i]), before[i] + 1);
	ck_assert_int_eq(pamsim_count(&pam, V_PKI), before[3] + 1);

	expect_failure(ns, "msec", "need-prop", "PropertyRequired", need, 8000);
	expect_failure(ns, "msec", "unknown-prop", "UnknownProperty", unk, 8000);
	expect_failure(ns, "msec", "unknown-otp", "UnknownProperty", unk_otp, 8000);
	assert_str_free(kq_obj(ns, "secret", "unknown-prop", "o"), "<absent>");
	ns_done(ns);
}
END_TEST

START_TEST(values_are_byte_exact)
{
	char *ns = ns_with_store("f-bytes", &pam, KEY);

	ck_assert_int_eq(msec_apply(ns, "exact", "  target: {name: exact}\n  data:\n"
	    "  - {secretKey: pem, remoteRef: {vaultID: \"" V_PKI "\", property: PrivateKey}}\n"
	    "  - {secretKey: utf8, remoteRef: {vaultID: \"" V_UTF8 "\"}}\n"
	    "  - {secretKey: escaped, remoteRef: {vaultID: \"" V_ESC "\"}}\n"
	    "  - {secretKey: controls, remoteRef: {vaultID: \"" V_CTL "\"}}\n"
	    "  - {secretKey: empty, remoteRef: {vaultID: \"" V_EMPTY "\"}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "exact-from", "  target: {name: exact-from}\n"
	    "  dataFrom:\n  - extract: {vaultID: \"" V_EMPTY "\"}\n"), 0);
	wait_ready(ns, "msec", "exact", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "exact"), "controls,empty,escaped,pem,utf8");
	VALUE_EQ(ns, "exact", "pem", PEM);
	VALUE_EQ(ns, "exact", "utf8", UTF8);
	VALUE_EQ(ns, "exact", "escaped", ESC);
	VALUE_EQ(ns, "exact", "controls", CTL);
	VALUE_EQ(ns, "exact", "empty", "");
	wait_ready(ns, "msec", "exact-from", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "exact-from"), "SecretText");
	VALUE_EQ(ns, "exact-from", "SecretText", "");
	ns_done(ns);
}
END_TEST

static const struct { const char *form, *vault; } good_forms[] = {
	{ "30s", V_R("0") }, { "5m", V_R("1") }, { "1h", V_R("2") }, { "2h30m", V_R("3") },
	{ "1.5h", V_R("4") }, { "300ms", V_R("5") },
};
static const char *const bad_forms[] = { "abc", "-5m", "5", "1d", "1h-", NULL };

START_TEST(refresh_interval_forms)
{
	char *ns = ns_with_store("f-refresh", &pam, KEY);
	char name[32], spec[512], want[64];

	for (size_t i = 0; i < sizeof(good_forms) / sizeof(good_forms[0]); i++) {
		snprintf(name, sizeof(name), "good-%zu", i);
		snprintf(spec, sizeof(spec), "  target: {name: %s}\n  refreshInterval: \"%s\"\n"
		    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"%s\"}}\n", name,
		    good_forms[i].form, good_forms[i].vault);
		ck_assert_int_eq(msec_apply(ns, name, spec), 0);
	}
	ck_assert_int_eq(msec_apply(ns, "omitted", "  target: {name: omitted}\n  data:\n"
	    "  - {secretKey: v, remoteRef: {vaultID: \"" V_R("6") "\"}}\n"), 0);
	for (size_t i = 0; bad_forms[i]; i++) {
		snprintf(name, sizeof(name), "bad-%zu", i);
		snprintf(spec, sizeof(spec), "  target: {name: %s}\n  refreshInterval: \"%s\"\n"
		    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"" V_R("7") "\"}}\n", name,
		    bad_forms[i]);
		ck_assert_int_eq(msec_apply(ns, name, spec), 0);
	}

	for (size_t i = 0; i < sizeof(good_forms) / sizeof(good_forms[0]); i++) {
		snprintf(name, sizeof(name), "good-%zu", i);
		wait_ready(ns, "msec", name, "True/Synced", 8000);
		assert_str_free(jp(ns, "msec", name, "{.spec.refreshInterval}"), good_forms[i].form);
	}
	wait_ready(ns, "msec", "omitted", "True/Synced", 8000);
	assert_str_free(jp(ns, "msec", "omitted", "{.spec.refreshInterval}"), "1h");
	for (size_t i = 0; bad_forms[i]; i++) {
		const char *needles[] = { "spec.refreshInterval", want, NULL };
		snprintf(name, sizeof(name), "bad-%zu", i);
		snprintf(want, sizeof(want), "\"%s\"", bad_forms[i]);
		expect_failure(ns, "msec", name, "InvalidRefreshInterval", needles, 8000);
		assert_str_free(jp(ns, "msec", name, "{.spec.refreshInterval}"), bad_forms[i]);
		assert_str_free(kq_obj(ns, "secret", name, "o"), "<absent>");
	}
	ck_assert_int_eq(pamsim_count(&pam, V_R("7")), 0);

	/* 300ms: asked about every 300 ms, never more, and nothing rewritten */
	const char *fast = V_R("5");
	char *rv = jp(ns, "secret", "good-5", "{.metadata.resourceVersion}");
	int64_t t0 = now_ms();   /* before c0 is read: the window holds every request */
	long c0 = pamsim_count(&pam, fast);
	sleep_ms(3000);
	long c1 = pamsim_count(&pam, fast);
	int64_t took = now_ms() - t0;
	fprintf(stderr, "refreshInterval 300ms: %ld PAM requests in %lld ms\n", c1 - c0,
	    (long long)took);
	ck_assert_int_le(c1 - c0, took / 300 + 1);
	ck_assert_int_ge(c1 - c0, 4);
	/* and by pamsim's own clock, no two requests closer than 300 ms */
	int64_t t[256];
	int st[256], n = pamsim_requests(&pam, fast, t, st, 256);
	ck_assert_int_ge(n, 5);
	for (int i = 1; i < n; i++)
		ck_assert_msg(t[i] - t[i - 1] >= 299, "requests %d and %d only %lld ms apart",
		    i - 1, i, (long long)(t[i] - t[i - 1]));
	assert_str_free(jp(ns, "secret", "good-5", "{.metadata.resourceVersion}"), rv);
	free(rv);
	/* the long intervals were asked once */
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(pamsim_count(&pam, good_forms[i].vault), 1);
	ck_assert_int_eq(pamsim_count(&pam, V_R("6")), 1);
	ns_done(ns);
}
END_TEST

START_TEST(refresh_zero_syncs_once_per_generation)
{
	char *ns = ns_with_store("f-once", &pam, KEY);
	long n0 = pamsim_count(&pam, V_ONCE);

	ck_assert_int_eq(msec_apply(ns, "once", "  target: {name: once}\n  refreshInterval: \"0\"\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"" V_ONCE "\"}}\n"), 0);
	wait_ready(ns, "msec", "once", "True/Synced", 8000);
	sleep_ms(2500);
	ck_assert_int_eq(pamsim_count(&pam, V_ONCE), n0 + 1);

	/* a new generation syncs again */
	ck_assert_int_eq(sh("kubectl -n %s patch msec once --type=merge -p "
	    "'{\"spec\":{\"target\":{\"template\":{\"metadata\":{\"labels\":{\"gen\":\"two\"}}}}}}' "
	    ">/dev/null", ns), 0);
	wait_jp(ns, "secret", "once", "{.metadata.labels.gen}", "two", 8000);
	ck_assert_int_eq(pamsim_count(&pam, V_ONCE), n0 + 2);

	/* and again when the Secret goes missing */
	ck_assert_int_eq(sh("kubectl -n %s delete secret once >/dev/null", ns), 0);
	wait_kq(ns, "secret", "once", "o[\"metadata\"][\"labels\"].get(\"gen\")", "two", 8000);
	VALUE_EQ(ns, "once", "v", "once-Fq2");
	sleep_ms(1500);
	ck_assert_int_eq(pamsim_count(&pam, V_ONCE), n0 + 3);
	ns_done(ns);
}
END_TEST

START_TEST(secret_keys_are_checked)
{
	char *ns = ns_with_store("f-keys", &pam, KEY);
	char spec[1024], k253[254], k254[255];
	static const char *const slash[] = { "spec.data[0].secretKey", "\"bad/key\"", NULL };
	static const char *const long_[] = { "spec.data[0].secretKey", "at most 253", NULL };
	static const char *const dup[] = { "spec.data[1].secretKey", "\"dup\" duplicates "
	    "spec.data[0]", NULL };

	memset(k253, 'k', 253); k253[253] = '\0';
	memset(k254, 'k', 254); k254[254] = '\0';
	ck_assert_int_eq(msec_apply(ns, "bad-key", "  target: {name: bad-key}\n  data:\n"
	    "  - {secretKey: \"bad/key\", remoteRef: {vaultID: \"" V_BADKEY "\"}}\n"), 0);
	snprintf(spec, sizeof(spec), "  target: {name: long-key}\n  data:\n"
	    "  - {secretKey: %s, remoteRef: {vaultID: \"" V_BADKEY "\"}}\n", k254);
	ck_assert_int_eq(msec_apply(ns, "long-key", spec), 0);
	ck_assert_int_eq(msec_apply(ns, "dup-key", "  target: {name: dup-key}\n  data:\n"
	    "  - {secretKey: dup, remoteRef: {vaultID: \"" V_BADKEY "\"}}\n"
	    "  - {secretKey: dup, remoteRef: {vaultID: \"" V_BADKEY "\"}}\n"), 0);
	snprintf(spec, sizeof(spec), "  target: {name: good-keys}\n  data:\n"
	    "  - {secretKey: %s, remoteRef: {vaultID: \"" V_TEXT "\"}}\n"
	    "  - {secretKey: a-b_c.D9, remoteRef: {vaultID: \"" V_TEXT "\"}}\n", k253);
	ck_assert_int_eq(msec_apply(ns, "good-keys", spec), 0);

	expect_failure(ns, "msec", "bad-key", "InvalidSpec", slash, 8000);
	expect_failure(ns, "msec", "long-key", "InvalidSpec", long_, 8000);
	expect_failure(ns, "msec", "dup-key", "InvalidSpec", dup, 8000);
	wait_ready(ns, "msec", "good-keys", "True/Synced", 8000);
	snprintf(spec, sizeof(spec), "a-b_c.D9,%s", k253);
	assert_str_free(secret_keys(ns, "good-keys"), spec);
	value_eq(ns, "good-keys", k253, TEXT, strlen(TEXT));
	const char *bad[] = { "bad-key", "long-key", "dup-key" };
	for (int i = 0; i < 3; i++)
		assert_str_free(kq_obj(ns, "secret", bad[i], "o"), "<absent>");
	ck_assert_int_eq(pamsim_count(&pam, V_BADKEY), 0);
	ns_done(ns);
}
END_TEST

#define OUR_ANN "pam.monofor.com/data-hash,pam.monofor.com/managed-keys,pam.monofor.com/monosecret"
#define USER_ANN "\",\".join(k+\"=\"+v for k,v in sorted(o[\"metadata\"].get(\"annotations\"," \
    "{}).items()) if not k.startswith(\"pam.monofor.com/\"))"
#define OUR_ANN_KEYS "\",\".join(k for k in sorted(o[\"metadata\"].get(\"annotations\",{})) " \
    "if k.startswith(\"pam.monofor.com/\"))"

START_TEST(template_is_applied_kept_and_guarded)
{
	char *ns = ns_with_store("f-tpl", &pam, KEY);
	static const char *const sa_type[] = { "spec.target.template.type",
	    "kubernetes.io/service-account-token", NULL };
	static const char *const sa_ann[] = { "kubernetes.io/service-account.name", NULL };

	ck_assert_int_eq(msec_apply(ns, "tpl", "  target:\n    name: tpl\n    template:\n"
	    "      type: example.com/custom\n"
	    "      metadata: {labels: {team: a, tier: db}, annotations: {note: hello}}\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"" V_TPL "\"}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "tpl-sa", "  target:\n    name: tpl-sa\n    template:\n"
	    "      type: kubernetes.io/service-account-token\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"" V_TPL "\"}}\n"), 0);
	ck_assert_int_eq(msec_apply(ns, "tpl-sa-ann", "  target:\n    name: tpl-sa-ann\n"
	    "    template:\n      metadata: {annotations: "
	    "{kubernetes.io/service-account.name: default}}\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"" V_TPL "\"}}\n"), 0);

	wait_ready(ns, "msec", "tpl", "True/Synced", 8000);
	assert_str_free(kq_obj(ns, "secret", "tpl", KQ_LABELS),
	    "app.kubernetes.io/managed-by=pam-operator,team=a,tier=db");
	assert_str_free(kq_obj(ns, "secret", "tpl", USER_ANN), "note=hello");
	assert_str_free(kq_obj(ns, "secret", "tpl", OUR_ANN_KEYS), OUR_ANN);
	assert_str_free(jp(ns, "secret", "tpl", "{.type}"), "example.com/custom");
	VALUE_EQ(ns, "tpl", "v", "tpl-Fq2");

	/* a changed template is applied, a changed type replaces the Secret */
	ck_assert_int_eq(sh("kubectl -n %s patch msec tpl --type=merge -p '{\"spec\":{\"target\":"
	    "{\"template\":{\"type\":\"Opaque\",\"metadata\":{\"labels\":{\"team\":\"b\",\"tier\":null},"
	    "\"annotations\":null}}}}}' >/dev/null", ns), 0);
	wait_jp(ns, "secret", "tpl", "{.type}", "Opaque", 8000);
	wait_kq(ns, "secret", "tpl", KQ_LABELS, "app.kubernetes.io/managed-by=pam-operator,team=b",
	    5000);
	assert_str_free(kq_obj(ns, "secret", "tpl", USER_ANN), "");
	VALUE_EQ(ns, "tpl", "v", "tpl-Fq2");

	/* kept in sync: a label removed by hand is back within seconds, with no
	 * PAM request (our keys were intact) */
	wait_ready(ns, "msec", "tpl", "True/Synced", 5000);
	sleep_ms(500);
	long n = pamsim_count(&pam, V_TPL);
	ck_assert_int_eq(sh("kubectl -n %s label secret tpl team- >/dev/null", ns), 0);
	int64_t took = wait_kq(ns, "secret", "tpl", KQ_LABELS,
	    "app.kubernetes.io/managed-by=pam-operator,team=b", 5000);
	fprintf(stderr, "template label restored in %lld ms\n", (long long)took);
	ck_assert_int_eq(pamsim_count(&pam, V_TPL), n);

	expect_failure(ns, "msec", "tpl-sa", "InvalidSpec", sa_type, 8000);
	expect_failure(ns, "msec", "tpl-sa-ann", "InvalidSpec", sa_ann, 8000);
	assert_str_free(kq_obj(ns, "secret", "tpl-sa", "o"), "<absent>");
	assert_str_free(kq_obj(ns, "secret", "tpl-sa-ann", "o"), "<absent>");
	ns_done(ns);
}
END_TEST

Suite *fields_suite(void)
{
	Suite *s = suite_create("fields");
	TCase *tc = tcase_create("fields");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, extract_gives_every_property_and_data_wins);
	tcase_add_test(tc, every_vault_type_and_property);
	tcase_add_test(tc, values_are_byte_exact);
	tcase_add_test(tc, refresh_interval_forms);
	tcase_add_test(tc, refresh_zero_syncs_once_per_generation);
	tcase_add_test(tc, secret_keys_are_checked);
	tcase_add_test(tc, template_is_applied_kept_and_guarded);
	suite_add_tcase(s, tc);
	return s;
}
