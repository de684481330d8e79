/*
 * harness.c - see harness.h. Processes are started with fork+exec and
 * their output goes to files under $PAMOP_TEST_LOGS, which the suites
 * scan afterwards for leaked test secrets.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *env_or(const char *k, const char *def)
{
	const char *v = getenv(k);
	return v && *v ? v : def;
}

const char *logs_dir(void)
{
	return env_or("PAMOP_TEST_LOGS", "/tmp");
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static char *vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

int sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = vfmt(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

char *sh_out(const char *fmt, ...)
{
	va_list ap;
	char *cmd, *out = NULL;
	size_t len = 0;
	FILE *f;

	va_start(ap, fmt);
	cmd = vfmt(fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	free(cmd);
	if (f == NULL)
		return strdup("");
	FILE *mem = open_memstream(&out, &len);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	pclose(f);
	fclose(mem);
	while (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	return out;
}

int kubectl_apply(const char *fmt, ...)
{
	va_list ap;
	char *yaml;
	FILE *f;
	int rc;

	va_start(ap, fmt);
	yaml = vfmt(fmt, ap);
	va_end(ap);
	f = popen("kubectl apply -f - >/dev/null", "w");
	fputs(yaml, f);
	rc = pclose(f);
	free(yaml);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

char *jp(const char *ns, const char *kind, const char *name, const char *path)
{
	return sh_out("kubectl get %s %s -n %s -o jsonpath='%s' 2>/dev/null", kind, name, ns, path);
}

char *secret_value(const char *ns, const char *name, const char *key)
{
	char *b64, *out;

	b64 = sh_out("kubectl get secret %s -n %s -o jsonpath='{.data.%s}' 2>/dev/null", name,
	    ns, key);
	if (*b64 == '\0') {
		free(b64);
		return NULL;
	}
	out = sh_out("printf '%%s' '%s' | base64 -d", b64);
	free(b64);
	return out;
}

char *kq(const char *get_args, const char *expr)
{
	/* The expression goes through the environment: no shell quoting. */
	setenv("KQ_EXPR", expr, 1);
	return sh_out("kubectl get %s -o json 2>/dev/null | python3 -c '"
	    "import json,os,sys\n"
	    "try:\n o=json.load(sys.stdin)\n"
	    "except Exception:\n print(\"<absent>\"); sys.exit(0)\n"
	    "print(eval(os.environ[\"KQ_EXPR\"]))'", get_args);
}

char *kq_obj(const char *ns, const char *kind, const char *name, const char *expr)
{
	char args[600];

	snprintf(args, sizeof(args), "%s %s -n %s", kind, name, ns);
	return kq(args, expr);
}

/* wait_for - poll get (jp or kq_obj) until it returns want. */
static int64_t wait_for(char *(*get)(const char *, const char *, const char *, const char *),
    const char *ns, const char *kind, const char *name, const char *what, const char *want,
    int timeout_ms)
{
	int64_t t0 = now_ms();
	char *got = NULL;

	for (;;) {
		free(got);
		got = get(ns, kind, name, what);
		if (strcmp(got, want) == 0)
			break;
		if (now_ms() - t0 > timeout_ms)
			ck_abort_msg("%s %s/%s %s: wanted \"%s\", still \"%s\" after %d ms", kind,
			    ns, name, what, want, got, timeout_ms);
		sleep_ms(50);
	}
	free(got);
	return now_ms() - t0;
}

int64_t wait_kq(const char *ns, const char *kind, const char *name, const char *expr,
    const char *want, int timeout_ms)
{
	return wait_for(kq_obj, ns, kind, name, expr, want, timeout_ms);
}

char *secret_b64(const char *ns, const char *name, const char *key)
{
	setenv("KQ_KEY", key, 1);
	return kq_obj(ns, "secret", name,
	    "(o.get(\"data\") or {}).get(os.environ[\"KQ_KEY\"], \"<absent>\")");
}

char *secret_keys(const char *ns, const char *name)
{
	return kq_obj(ns, "secret", name, "\",\".join(sorted(o.get(\"data\") or {}))");
}

char *events_of(const char *ns, const char *name)
{
	char args[600];

	snprintf(args, sizeof(args), "events -n %s --field-selector involvedObject.name=%s",
	    ns, name);
	return kq(args, "\",\".join(e[\"type\"]+\"/\"+e[\"reason\"] for e in sorted("
	    "o[\"items\"], key=lambda e: (e.get(\"firstTimestamp\") or \"\", "
	    "e[\"metadata\"][\"creationTimestamp\"], int(e[\"metadata\"][\"resourceVersion\"]))))");
}

int msec_apply(const char *ns, const char *name, const char *spec_yaml)
{
	return kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: %s, namespace: %s}\nspec:\n%s%s", name, ns,
	    strstr(spec_yaml, "monoStoreRef") ? "" : "  monoStoreRef: {name: pam}\n", spec_yaml);
}

int64_t wait_jp(const char *ns, const char *kind, const char *name, const char *path,
    const char *want, int timeout_ms)
{
	return wait_for(jp, ns, kind, name, path, want, timeout_ms);
}

char *ready_of(const char *ns, const char *kind, const char *name)
{
	return jp(ns, kind, name, "{.status.conditions[?(@.type==\"Ready\")].status}/"
	    "{.status.conditions[?(@.type==\"Ready\")].reason}");
}

int64_t wait_ready(const char *ns, const char *kind, const char *name, const char *want,
    int timeout_ms)
{
	return wait_jp(ns, kind, name, "{.status.conditions[?(@.type==\"Ready\")].status}/"
	    "{.status.conditions[?(@.type==\"Ready\")].reason}", want, timeout_ms);
}

char *ready_field(const char *ns, const char *kind, const char *name, const char *field)
{
	char path[256];

	snprintf(path, sizeof(path), "{.status.conditions[?(@.type==\"Ready\")].%s}", field);
	return jp(ns, kind, name, path);
}

void expect_failure(const char *ns, const char *kind, const char *name, const char *reason,
    const char *const *needles, int timeout_ms)
{
	char want[256], *msg;

	snprintf(want, sizeof(want), "False/%s", reason);
	wait_ready(ns, kind, name, want, timeout_ms);
	msg = ready_field(ns, kind, name, "message");
	for (size_t i = 0; needles && needles[i]; i++)
		ck_assert_msg(strstr(msg, needles[i]) != NULL, "%s %s/%s: message \"%s\" lacks "
		    "\"%s\"", kind, ns, name, msg, needles[i]);
	free(msg);
}

void still_for(const char *ns, const char *kind, const char *name, const char *expr,
    const char *want, int ms)
{
	int64_t t0 = now_ms();

	do {
		char *got = kq_obj(ns, kind, name, expr);
		ck_assert_msg(strcmp(got, want) == 0, "%s %s/%s %s: changed to \"%s\" (was \"%s\")",
		    kind, ns, name, expr, got, want);
		free(got);
		sleep_ms(200);
	} while (now_ms() - t0 < ms);
}

char *ns_new(const char *prefix)
{
	static int seq;
	char *ns = NULL;

	if (asprintf(&ns, "%s-%d-%d", prefix, (int)getpid() % 100000, ++seq) < 0)
		abort();
	ck_assert_int_eq(sh("kubectl create namespace %s >/dev/null", ns), 0);
	return ns;
}

void ns_delete(const char *ns)
{
	sh("kubectl delete namespace %s --wait=false >/dev/null 2>&1", ns);
}

void ns_done(char *ns)
{
	ns_delete(ns);
	free(ns);
}

char *ns_with_store(const char *prefix, struct pamsim *p, const char *key)
{
	char *ns = ns_new(prefix);

	store_setup(ns, p, key);
	return ns;
}

void assert_str_free(char *got, const char *want)
{
	ck_assert_str_eq(got, want);
	free(got);
}

int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* spawn - fork+exec argv with stdout/stderr appended to log. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		setpgid(0, 0);
		/* A failed test ends its process early: what it started must not
		 * outlive it and act on the next tests' objects. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);   /* it ended before the line above */
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void wait_http(int port, const char *path, int timeout_ms)
{
	int64_t t0 = now_ms();

	while (sh("curl -sf -o /dev/null http://127.0.0.1:%d%s", port, path) != 0) {
		if (now_ms() - t0 > timeout_ms)
			ck_abort_msg("nothing answered on 127.0.0.1:%d%s", port, path);
		sleep_ms(50);
	}
}

void pamsim_start(struct pamsim *p, const char *vault_json, const char *keys)
{
	pamsim_start_on(p, "127.0.0.1", true, vault_json, keys);
}

void pamsim_start_on(struct pamsim *p, const char *ip, bool tls, const char *vault_json,
    const char *keys)
{
	static int seq;
	const char *logs = env_or("PAMOP_TEST_LOGS", "/tmp");
	char listen[64], admin[32], keyfile[256];
	FILE *f;

	memset(p, 0, sizeof(*p));
	seq++;
	snprintf(p->vaults, sizeof(p->vaults), "%s/pamsim-%d-%d.json", logs, getpid(), seq);
	snprintf(keyfile, sizeof(keyfile), "%s/pamsim-%d-%d.keys", logs, getpid(), seq);
	snprintf(p->log, sizeof(p->log), "%s/pamsim-%d-%d.log", logs, getpid(), seq);
	f = fopen(p->vaults, "w");
	fputs(vault_json, f);
	fclose(f);
	f = fopen(keyfile, "w");
	for (const char *k = keys; *k; k++)
		fputc(*k == ',' ? '\n' : *k, f);
	fputc('\n', f);
	fclose(f);
	p->port = free_port();
	p->admin_port = free_port();
	snprintf(listen, sizeof(listen), "%s:%d", ip, p->port);
	snprintf(admin, sizeof(admin), "127.0.0.1:%d", p->admin_port);
	snprintf(p->url, sizeof(p->url), "%s://%s:%d", tls ? "https" : "http", ip, p->port);
	char *argv[] = { NULL, "--listen", listen, "--admin-listen", admin, "--vaults", p->vaults,
	    "--access-key-file", keyfile, "--tls-cert", (char *)env_or("PAMSIM_CERT", ""),
	    "--tls-key", (char *)env_or("PAMSIM_KEY", ""), NULL };
	char bin[512];
	snprintf(bin, sizeof(bin), "%s/pamsim", env_or("PAMOP_BIN", "build/bin"));
	argv[0] = bin;
	if (!tls) {
		argv[9] = "--plain-http";
		argv[10] = NULL;
	}
	p->pid = spawn(argv, p->log);
	wait_http(p->admin_port, "/stats", 5000);
}

void pamsim_stop(struct pamsim *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

void pamsim_put_vaults(struct pamsim *p, const char *vault_json)
{
	FILE *f = fopen(p->vaults, "w");

	fputs(vault_json, f);
	fclose(f);
	ck_assert_int_eq(kill(p->pid, SIGHUP), 0);
	sleep_ms(100);
}

long pamsim_count(struct pamsim *p, const char *vault)
{
	char *out = sh_out("curl -sf http://127.0.0.1:%d/stats | python3 -c 'import json,sys; "
	    "print(json.load(sys.stdin)[\"vaults\"].get(\"%s\", 0))'", p->admin_port, vault);
	long n = strtol(out, NULL, 10);
	free(out);
	return n;
}

void pamsim_fault(struct pamsim *p, const char *json)
{
	ck_assert_int_eq(sh("curl -sf -X POST -d '%s' http://127.0.0.1:%d/fault >/dev/null", json,
	    p->admin_port), 0);
}

void pamsim_clear_faults(struct pamsim *p)
{
	ck_assert_int_eq(sh("curl -sf -X POST http://127.0.0.1:%d/fault/clear >/dev/null",
	    p->admin_port), 0);
}

int pamsim_requests(struct pamsim *p, const char *vault, int64_t *t_ms, int *status, int max)
{
	FILE *f = fopen(p->log, "r");
	char line[1024], path[160];
	int n = 0;

	if (f == NULL)
		return 0;
	snprintf(path, sizeof(path), "path=/api/v1/vaults/%s ", vault);
	while (n < max && fgets(line, sizeof(line), f)) {
		struct tm tm = { 0 };
		int ms = 0, st = 0;
		const char *sp;
		if (strstr(line, path) == NULL || (sp = strstr(line, " status=")) == NULL ||
		    sscanf(line, "ts=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7 || sscanf(sp, " status=%d", &st) != 1)
			continue;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		t_ms[n] = (int64_t)timegm(&tm) * 1000 + ms;
		status[n++] = st;
	}
	fclose(f);
	return n;
}

long wait_count(struct pamsim *p, const char *vault, long n, int timeout_ms)
{
	int64_t t0 = now_ms();
	long got;

	while ((got = pamsim_count(p, vault)) < n) {
		if (now_ms() - t0 > timeout_ms)
			ck_abort_msg("pamsim: vault %s asked %ld times, wanted %ld within %d ms",
			    vault, got, n, timeout_ms);
		sleep_ms(50);
	}
	return got;
}

void manager_start(struct manager *m, const char *extra_args)
{
	manager_start_with(m, env_or("PAMOP_MANAGER_WRAPPER", ""), extra_args);
}

void manager_start_with(struct manager *m, const char *wrapper, const char *extra_args)
{
	manager_spawn_with(m, wrapper, extra_args);
	/* Under valgrind the manager needs far longer to come up. */
	wait_http(m->health_port, "/readyz", atoi(env_or("PAMOP_START_TIMEOUT_MS", "15000")));
}

void manager_spawn(struct manager *m, const char *extra_args)
{
	manager_spawn_with(m, env_or("PAMOP_MANAGER_WRAPPER", ""), extra_args);
}

void manager_spawn_with(struct manager *m, const char *wrapper, const char *extra_args)
{
	static int seq;
	const char *logs = env_or("PAMOP_TEST_LOGS", "/tmp");
	char cmd[4096], bin[512];

	memset(m, 0, sizeof(*m));
	m->metrics_port = free_port();
	m->health_port = free_port();
	snprintf(m->log, sizeof(m->log), "%s/manager-%d-%d.log", logs, getpid(), ++seq);
	snprintf(bin, sizeof(bin), "%s/manager", env_or("PAMOP_BIN", "build/bin"));
	/* The ServiceAccount credential run-integration made, when there is
	 * one: the suites then run with deploy/'s RBAC, not as admin. A
	 * --kubeconfig in extra_args comes later and wins. */
	const char *sa = env_or("PAMOP_MANAGER_KUBECONFIG", "");
	snprintf(cmd, sizeof(cmd), "exec %s %s --metrics-bind-address=127.0.0.1:%d "
	    "--health-probe-bind-address=127.0.0.1:%d --pam-ca-file=%s %s%s %s %s", wrapper, bin,
	    m->metrics_port, m->health_port, env_or("PAMSIM_CA", ""), *sa ? "--kubeconfig=" : "",
	    sa, extra_args ? extra_args : "", env_or("PAMOP_MANAGER_ARGS", ""));
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	m->pid = spawn(argv, m->log);
}

int64_t manager_stop(struct manager *m)
{
	int64_t t0 = now_ms();

	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		/* A manager restarted by a forked test is not our child: wait
		 * for it to be gone all the same, or two would overlap. One
		 * that hangs on its way out must not hang the suite. */
		pid_t w;
		while ((w = waitpid(m->pid, NULL, WNOHANG)) == 0 ||
		    (w < 0 && errno == ECHILD && kill(m->pid, 0) == 0)) {
			if (now_ms() - t0 > 30000) {
				fprintf(stderr, "manager %d did not stop within 30 s; killed\n",
				    (int)m->pid);
				kill(m->pid, SIGKILL);
				waitpid(m->pid, NULL, 0);
				break;
			}
			sleep_ms(20);
		}
		m->pid = 0;
	}
	return now_ms() - t0;
}

void store_setup(const char *ns, struct pamsim *p, const char *key)
{
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: v1\nkind: Secret\nmetadata: {name: pam-access-key, namespace: %s}\n"
	    "stringData: {key: \"%s\"}\n---\n"
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoStore\n"
	    "metadata: {name: pam, namespace: %s}\nspec:\n  provider:\n    monoforPAM:\n"
	    "      url: \"%s\"\n      auth:\n        accessKeySecretRef: {name: pam-access-key, "
	    "key: key, namespace: %s}\n", ns, key, ns, p->url, ns), 0);
}

void assert_file_lacks(const char *file, const char *const *values)
{
	for (size_t i = 0; values[i]; i++)
		ck_assert_msg(sh("grep -qF -- '%s' '%s'", values[i], file) != 0,
		    "%s contains a test secret", file);
}
