/*
 * observe.c - see observe.h.
 */
#include "observe.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double prom(const struct manager *m, const char *sample, const char *filters)
{
	char quoted[1024] = "";
	size_t ql = 0;

	/* each filter as one shell word: they hold | and ! */
	for (const char *p = filters ? filters : ""; *p; ) {
		size_t n = strcspn(p, " ");
		if (n > 0)
			ql += (size_t)snprintf(quoted + ql, sizeof(quoted) - ql, " '%.*s'", (int)n, p);
		p += n + (p[n] == ' ');
	}
	char *out = sh_out("tests/integration/promq http://127.0.0.1:%d/metrics %s%s 2>&1; "
	    "echo \" rc=$?\"", m->metrics_port, sample, quoted);
	char *rc = strstr(out, " rc=");
	double v;

	ck_assert_msg(rc && strcmp(rc, " rc=0") == 0, "/metrics did not parse: %s", out);
	*rc = '\0';
	v = strncmp(out, "absent", 6) == 0 ? -1 : strtod(out, NULL);
	free(out);
	return v;
}

double prom_wait(const struct manager *m, const char *sample, const char *filters,
    double want, int timeout_ms)
{
	int64_t t0 = now_ms();
	double v;

	while ((v = prom(m, sample, filters)) < want) {
		ck_assert_msg(now_ms() - t0 < timeout_ms, "%s{%s} still %g after %d ms, wanted %g",
		    sample, filters, v, timeout_ms, want);
		sleep_ms(100);
	}
	return v;
}

int http_status(int port, const char *path)
{
	char *out = sh_out("curl -s -o /dev/null -m 5 -w '%%{http_code}' http://127.0.0.1:%d%s",
	    port, path);
	int code = atoi(out);

	free(out);
	return code;
}

int worker_pids(const struct manager *m, pid_t *out, int max)
{
	char path[320], buf[4096];
	struct dirent *e;
	int n = 0;
	DIR *d;

	/* children are listed per thread; the workers are forked by the main one */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)m->pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int)m->pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		for (char *p = buf, *end; n < max; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			out[n++] = (pid_t)pid;
		}
	}
	closedir(d);
	return n;
}

char *lease_holder(const char *ns, const char *name)
{
	return jp(ns, "lease", name, "{.spec.holderIdentity}");
}

int log_count(const struct manager *m, ...)
{
	char cmd[2048] = "cat ";
	size_t len = strlen(cmd);
	const char *needle;
	va_list ap;
	int n;

	len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "'%s'", m->log);
	va_start(ap, m);
	while ((needle = va_arg(ap, const char *)) != NULL)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " | grep -F -- '%s'", needle);
	va_end(ap);
	snprintf(cmd + len, sizeof(cmd) - len, " | wc -l");
	char *out = sh_out("%s", cmd);
	n = atoi(out);
	free(out);
	return n;
}

void pam_objects_quiesce(void)
{
	sh("kubectl delete msec,mstore --all -A --wait=false >/dev/null 2>&1");
	sh("kubectl get msec -A -o jsonpath='{range .items[*]}{.metadata.namespace} "
	    "{.metadata.name}{\"\\n\"}{end}' | while read ns n; do [ -n \"$n\" ] && "
	    "kubectl -n \"$ns\" patch msec \"$n\" --type=merge "
	    "-p '{\"metadata\":{\"finalizers\":null}}' >/dev/null 2>&1; done");
	for (int64_t t0 = now_ms(); now_ms() - t0 < 30000; sleep_ms(200)) {
		char *n = sh_out("kubectl get msec,mstore -A --no-headers 2>/dev/null | wc -l");
		bool none = atoi(n) == 0;
		free(n);
		if (none)
			return;
	}
	ck_abort_msg("MonoSecrets or MonoStores are still there after 30 s");
}

void deployment_reloading(const char *ns, const char *name, const char *secret)
{
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\n"
	    "  annotations: {pam.monofor.com/reload-on: \"%s\"}\nspec:\n  replicas: 1\n"
	    "  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n"
	    "    spec:\n      containers: [{name: app, image: nginx}]\n", name, ns, secret, name,
	    name), 0);
}

long generation_of(const char *ns, const char *name)
{
	char *g = jp(ns, "deployment", name, "{.metadata.generation}");
	long v = atol(g);

	free(g);
	return v;
}

void msec_one(const char *ns, const char *name, const char *target, const char *refresh,
    const char *key, const char *vault, const char *prop)
{
	char spec[600];

	snprintf(spec, sizeof(spec), "  target: {name: %s}\n  refreshInterval: \"%s\"\n"
	    "  data:\n    - secretKey: %s\n      remoteRef: {vaultID: \"%s\", property: %s}\n",
	    target, refresh, key, vault, prop);
	ck_assert_int_eq(msec_apply(ns, name, spec), 0);
}

long pamsim_total(struct pamsim *p)
{
	char *out = sh_out("curl -sf http://127.0.0.1:%d/stats | python3 -c 'import json,sys; "
	    "print(json.load(sys.stdin)[\"total\"])'", p->admin_port);
	long n = strtol(out, NULL, 10);

	free(out);
	return n;
}

char *vaults_json(const char *text_id, const char *text, const char *user_id, const char *pw)
{
	char *s = NULL, *t = NULL;

	if (text_id && asprintf(&t, "{\"id\":\"%s\",\"type\":\"SecretText\",\"properties\":"
	    "{\"SecretText\":\"%s\"}},", text_id, text) < 0)
		abort();
	if (asprintf(&s, "{\"vaults\":[%s{\"id\":\"%s\",\"type\":\"UserNamePassword\","
	    "\"properties\":{\"UserName\":\"app\",\"Password\":\"%s\"}}]}", t ? t : "",
	    user_id, pw) < 0)
		abort();
	free(t);
	return s;
}
