/*
 * test_kubeconfig - kubeconfig files from tests/fixtures/kubeconfig (file
 * paths, embedded -data, tokens, error cases) and the in-cluster mount,
 * built in a temporary directory.
 *
 * Fixtures are found relative to this source file's path as the compiler
 * saw it, so the tests run from the directory make runs in.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "util.h"

/* fix - path of a fixture file (free it). */
static char *
fix(const char *name)
{
	const char *f = __FILE__, *p = strstr(f, "unit/test_kubeconfig.c");

	if (p == NULL)
		return util_strdup_printf("tests/fixtures/kubeconfig/%s", name);
	return util_strdup_printf("%.*sfixtures/kubeconfig/%s", (int)(p - f), f,
	    name);
}

/* fix_text - contents of a fixture file (free it). */
static char *
fix_text(const char *name)
{
	char *path = fix(name), *text;

	ck_assert_int_eq(util_read_file(path, &text, NULL, 1 << 20), 0);
	free(path);
	return text;
}

/* load_ok - load a fixture that must parse. */
static void
load_ok(const char *name, struct kube_creds *c)
{
	char err[256] = "", *path = fix(name);

	ck_assert_msg(kubeconfig_load(path, c, err, sizeof(err)) == 0,
	    "%s: %s", name, err);
	free(path);
}

/* load_err - load a fixture that must fail; return the reason. */
static const char *
load_err(const char *name)
{
	static char err[256];
	struct kube_creds c;
	char *path = fix(name);

	err[0] = '\0';
	ck_assert_msg(kubeconfig_load(path, &c, err, sizeof(err)) == -1,
	    "%s loaded", name);
	ck_assert_ptr_null(c.server);
	ck_assert_ptr_null(c.token);
	free(path);
	return err;
}

/* assert_fixture - field f holds exactly the fixture file's text. */
static void
assert_fixture(const char *f, const char *name)
{
	char *want = fix_text(name);

	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f, want);
	free(want);
}

/* Relative file paths, trailing slash, namespace, the right context. */
START_TEST(test_files)
{
	struct kube_creds c;

	load_ok("files.yaml", &c);
	ck_assert_str_eq(c.server, "https://127.0.0.1:6443");
	assert_fixture(c.ca_pem, "ca.crt");
	assert_fixture(c.cert_pem, "client.crt");
	assert_fixture(c.key_pem, "client.key");
	ck_assert_ptr_null(c.token);
	ck_assert_ptr_null(c.token_file);
	ck_assert_str_eq(c.namespace, "apps");
	ck_assert(!c.insecure);
	kube_creds_free(&c);
	ck_assert_ptr_null(c.server);
	ck_assert_ptr_null(c.key_pem);
}
END_TEST

/* Paths resolve against the file, not the working directory. */
START_TEST(test_files_other_cwd)
{
	char cwd[PATH_MAX], *rel = fix("files.yaml"), *abs;
	struct kube_creds c;
	char err[256] = "";

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	abs = rel[0] == '/' ? util_xstrdup(rel) :
	    util_strdup_printf("%s/%s", cwd, rel);
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_msg(kubeconfig_load(abs, &c, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(chdir(cwd), 0);
	assert_fixture(c.key_pem, "client.key");
	kube_creds_free(&c);
	free(abs);
	free(rel);
}
END_TEST

/* Base64 -data decodes to the same PEM text; folded lines are fine. */
START_TEST(test_embedded)
{
	struct kube_creds c;

	load_ok("embedded.yaml", &c);
	ck_assert_str_eq(c.server, "https://[::1]:6443");
	assert_fixture(c.ca_pem, "ca.crt");
	assert_fixture(c.cert_pem, "client.crt");
	assert_fixture(c.key_pem, "client.key");
	ck_assert_str_eq(c.token, "fixture-inline-token");
	ck_assert_ptr_null(c.token_file);
	ck_assert_str_eq(c.namespace, "default");
	kube_creds_free(&c);
}
END_TEST

/* tokenFile is read (trimmed) and remembered for rotation. */
START_TEST(test_token_file)
{
	struct kube_creds c;

	load_ok("tokenfile.yaml", &c);
	ck_assert_str_eq(c.token, "fixture-token-from-file");
	ck_assert_ptr_nonnull(c.token_file);
	ck_assert_ptr_nonnull(strstr(c.token_file, "/kubeconfig/token"));
	ck_assert(c.insecure);
	ck_assert_ptr_null(c.ca_pem);
	ck_assert_int_eq(kube_creds_reload_token(&c), 0);
	ck_assert_str_eq(c.token, "fixture-token-from-file");
	kube_creds_free(&c);
}
END_TEST

/* One context and no current-context: use it; no user means no auth. */
START_TEST(test_single_context)
{
	struct kube_creds c;

	load_ok("single-context.yaml", &c);
	ck_assert_str_eq(c.server, "https://127.0.0.1:6443");
	ck_assert_ptr_null(c.token);
	ck_assert_ptr_null(c.cert_pem);
	ck_assert_str_eq(c.namespace, "default");
	kube_creds_free(&c);
}
END_TEST

/* -data beats the file path, an inline token beats tokenFile. */
START_TEST(test_precedence)
{
	struct kube_creds c;

	load_ok("precedence.yaml", &c);
	assert_fixture(c.ca_pem, "ca.crt");
	ck_assert_str_eq(c.token, "fixture-inline-token");
	ck_assert_ptr_null(c.token_file);
	kube_creds_free(&c);
}
END_TEST

/* Each broken file fails with a reason naming the problem. */
START_TEST(test_errors)
{
	static const struct {
		const char *file, *want;
	} cases[] = {
		{ "missing-context.yaml",
		    "kubeconfig: current-context \"nope\" not found" },
		{ "two-contexts.yaml", "kubeconfig: no current-context set and "
		    "2 contexts to choose from" },
		{ "missing-cluster.yaml",
		    "kubeconfig: cluster \"gone\" not found" },
		{ "missing-user.yaml", "kubeconfig: user \"ghost\" not found" },
		{ "no-server.yaml", "kubeconfig: cluster \"c\" has no server" },
		{ "bad-base64.yaml", "kubeconfig: user \"u\": client-key-data "
		    "is not valid base64" },
		{ "cert-no-key.yaml", "kubeconfig: user \"u\" has a client "
		    "certificate but no client key" },
		{ "exec.yaml", "kubeconfig: user \"u\" uses exec or "
		    "auth-provider, which is not supported" },
		{ "insecure-with-ca.yaml", "kubeconfig: cluster \"c\" sets both "
		    "a certificate authority and insecure-skip-tls-verify" },
		{ "bad-bool.yaml", "kubeconfig: cluster \"c\": "
		    "insecure-skip-tls-verify must be true or false" },
		{ "not-mapping.yaml",
		    "kubeconfig: top level is not a mapping" },
		{ "wrong-types.yaml", "kubeconfig: contexts must be a list" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(load_err(cases[i].file), cases[i].want);
}
END_TEST

/* Errors that carry a path or a parser position; none echo a value. */
START_TEST(test_errors_detail)
{
	const char *e;

	e = load_err("bad-base64.yaml");
	ck_assert_ptr_null(strstr(e, "SECRET"));

	e = load_err("missing-token-file.yaml");
	ck_assert_ptr_nonnull(strstr(e, "kubeconfig: user \"u\": cannot read "
	    "tokenFile \""));
	ck_assert_ptr_nonnull(strstr(e, "/kubeconfig/no-such-token\": "
	    "No such file or directory"));

	e = load_err("not-yaml.yaml");
	ck_assert_msg(strstr(e, "not-yaml.yaml\" line ") != NULL, "%s", e);

	e = load_err("no-such-file.yaml");
	ck_assert_msg(strstr(e, "kubeconfig: cannot read \"") == e, "%s", e);
	ck_assert_ptr_nonnull(strstr(e, "No such file or directory"));
}
END_TEST

/* sa_mount - a service-account directory with the given files. */
static char *
sa_mount(const char *token, const char *ca, const char *ns)
{
	char *dir = util_xstrdup("/tmp/pamop-sa-XXXXXX"), *p;
	const char *names[] = { "token", "ca.crt", "namespace" };
	const char *vals[] = { token, ca, ns };
	FILE *f;
	size_t i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; i < 3; i++) {
		if (vals[i] == NULL)
			continue;
		p = util_strdup_printf("%s/%s", dir, names[i]);
		f = fopen(p, "w");
		ck_assert_ptr_nonnull(f);
		fputs(vals[i], f);
		fclose(f);
		free(p);
	}
	return dir;
}

/* sa_unmount - remove what sa_mount made. */
static void
sa_unmount(char *dir)
{
	const char *names[] = { "token", "ca.crt", "namespace" };
	char *p;
	size_t i;

	for (i = 0; i < 3; i++) {
		p = util_strdup_printf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

/* The in-cluster mount: server from env, token, CA and namespace. */
START_TEST(test_in_cluster)
{
	char *dir = sa_mount("sa-token\n", "CA PEM\n", "team-a\n"), err[256];
	struct kube_creds c;

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_msg(kubeconfig_in_cluster(dir, &c, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(c.server, "https://10.96.0.1:443");
	ck_assert_str_eq(c.token, "sa-token");
	ck_assert_ptr_nonnull(c.token_file);
	ck_assert_str_eq(c.ca_pem, "CA PEM\n");
	ck_assert_str_eq(c.namespace, "team-a");
	ck_assert_ptr_null(c.cert_pem);
	kube_creds_free(&c);

	/* IPv6 service addresses need brackets in a URL. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.server, "https://[fd00:10:96::1]:443");
	kube_creds_free(&c);

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	sa_unmount(dir);
}
END_TEST

/* Missing pieces of the in-cluster setup. */
START_TEST(test_in_cluster_errors)
{
	char *dir, err[256];
	struct kube_creds c;

	unsetenv("KUBERNETES_SERVICE_HOST");
	dir = sa_mount("t", "ca", NULL);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "in-cluster: KUBERNETES_SERVICE_HOST and "
	    "KUBERNETES_SERVICE_PORT must be set");

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "in-cluster: KUBERNETES_SERVICE_PORT is not a "
	    "port number");

	/* No namespace file: "default". */
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.namespace, "default");
	kube_creds_free(&c);
	sa_unmount(dir);

	/* No CA: refuse rather than trust the system store. */
	dir = sa_mount("t", NULL, "ns");
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/ca.crt\": No such file"));
	ck_assert_ptr_null(c.token);
	sa_unmount(dir);

	/* An empty token file is an error too, and never printed. */
	dir = sa_mount("\n", "ca", "ns");
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/token\": "));
	sa_unmount(dir);

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

/* Rotation: a new token replaces the old; same bytes leave it alone. */
START_TEST(test_reload_token)
{
	char *dir = sa_mount("first\n", "ca", "ns"), *p, err[256];
	struct kube_creds c;
	const char *before;
	FILE *f;

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(kubeconfig_in_cluster(dir, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.token, "first");

	before = c.token;
	ck_assert_int_eq(kube_creds_reload_token(&c), 0);
	ck_assert_ptr_eq(c.token, before);

	p = util_strdup_printf("%s/token", dir);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("second", f);
	fclose(f);
	ck_assert_int_eq(kube_creds_reload_token(&c), 0);
	ck_assert_str_eq(c.token, "second");

	/* A vanished file keeps the last good token. */
	unlink(p);
	ck_assert_int_eq(kube_creds_reload_token(&c), -1);
	ck_assert_str_eq(c.token, "second");
	free(p);

	kube_creds_free(&c);
	ck_assert_int_eq(kube_creds_reload_token(&c), 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	sa_unmount(dir);
}
END_TEST

/* kubeconfig_suite - registered by tests/unit/main.c. */
Suite *
kubeconfig_suite(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tf = tcase_create("file");
	TCase *ti = tcase_create("in-cluster");

	tcase_add_test(tf, test_files);
	tcase_add_test(tf, test_files_other_cwd);
	tcase_add_test(tf, test_embedded);
	tcase_add_test(tf, test_token_file);
	tcase_add_test(tf, test_single_context);
	tcase_add_test(tf, test_precedence);
	tcase_add_test(tf, test_errors);
	tcase_add_test(tf, test_errors_detail);
	suite_add_tcase(s, tf);

	tcase_add_test(ti, test_in_cluster);
	tcase_add_test(ti, test_in_cluster_errors);
	tcase_add_test(ti, test_reload_token);
	suite_add_tcase(s, ti);
	return s;
}
