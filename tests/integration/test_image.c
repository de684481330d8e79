/*
 * image: the container image's filesystem, built by replaying the
 * Dockerfile's build stage (scripts/image-replay; no container engine
 * here), runs the operator the way the Deployment does: in-cluster
 * credentials from a mounted ServiceAccount token, the Deployment's
 * args, a read-only root, /tmp in memory, UID 65532, and the worker
 * found beside /manager. It syncs a MonoSecret. Needs root for the
 * mounts and chroot; as another user it says so and checks nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define V_USER "6b1d0c3e-0000-4000-8000-0000000000b1"
#define KEY "2a3b4c5d-aaaa-bbbb-cccc-ddddeeee0009"
#define PW "pw-Img4-value"

/* group_alive - a process of group pgid still exists */
static bool group_alive(int pgid)
{
	return sh("ps -eo pgid= | grep -qx ' *%d'", pgid) == 0;
}

START_TEST(image_runs_the_operator_as_the_deployment_does)
{
	char root[300], tok[300], ca[300], log[300], *out, *pid_s, *api;
	struct pamsim pam;
	int health = free_port(), metrics = free_port(), pgid;
	static const char *const secrets[] = { KEY, PW, NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "image: not root, so no chroot: nothing checked\n");
		return;
	}
	snprintf(root, sizeof(root), "%s/image-rootfs", logs_dir());
	snprintf(tok, sizeof(tok), "%s/image-token", logs_dir());
	snprintf(ca, sizeof(ca), "%s/image-pamca", logs_dir());
	snprintf(log, sizeof(log), "%s/image-manager.log", logs_dir());
	ck_assert_int_eq(sh("rm -rf %s %s %s && scripts/image-replay %s 0.0.0-image-test "
	    ">/dev/null 2>&1", root, tok, ca, root), 0);

	/* nothing in the image but what the operator needs */
	out = sh_out("ls -A %s | tr '\\n' ' '", root);
	ck_assert_str_eq(out, "etc lib lib64 manager pam-worker tmp ");
	free(out);
	out = sh_out("du -sk %s | cut -f1", root);
	fprintf(stderr, "image filesystem: %s KiB\n", out);
	ck_assert_int_lt(atoi(out), 40 * 1024);
	free(out);

	/* what the kubelet mounts: the token, the cluster CA, the namespace */
	ck_assert_int_eq(sh("mkdir -p %s %s && kubectl create token pam-operator "
	    "-n pam-operator-system > %s/token && kubectl config view --raw -o "
	    "jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > %s/ca.crt "
	    "&& printf pam-operator-system > %s/namespace && cp \"$PAMSIM_CA\" %s/ca.crt && "
	    "chmod 755 %s %s && chmod 644 %s/* %s/*", tok, ca, tok, tok, tok, ca, tok, ca, tok, ca),
	    0);
	sh("kubectl -n pam-operator-system delete lease pam-operator-leader --ignore-not-found "
	    ">/dev/null 2>&1");
	api = sh_out(". .testenv/ports && echo $API_PORT");
	char *args = sh_out("kubectl create --dry-run=client -f deploy/operator/deployment.yaml "
	    "-o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{\"\\n\"}{end}' | "
	    "grep -v -- '-bind-address=' | tr '\\n' ' '");
	pid_s = sh_out("KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=%s setsid "
	    "tests/integration/run-in-rootfs.sh %s %s %s /manager %s "
	    "--metrics-bind-address=127.0.0.1:%d --health-probe-bind-address=127.0.0.1:%d "
	    "--pam-ca-file=/etc/pam-ca/ca.crt >%s 2>&1 & echo $!", api, root, tok, ca, args,
	    metrics, health, log);
	pgid = atoi(pid_s);
	free(pid_s); free(args); free(api);
	ck_assert_int_gt(pgid, 1);

	int64_t t0 = now_ms();
	while (sh("curl -sf -o /dev/null http://127.0.0.1:%d/readyz", health) != 0) {
		if (now_ms() - t0 > 15000) {
			kill(-pgid, SIGKILL);
			out = sh_out("cat %s", log);
			ck_abort_msg("not ready from the image:\n%s", out);
		}
		sleep_ms(100);
	}
	/* the manager and both workers, all as 65532, nothing else of ours */
	out = sh_out("ps -eo pgid=,uid=,gid=,comm= | awk '$1 == %d && ($4 == \"manager\" || "
	    "$4 == \"pam-worker\") {print $2 \"/\" $3 \"/\" $4}' | sort | tr '\\n' ' '", pgid);
	ck_assert_str_eq(out, "65532/65532/manager 65532/65532/pam-worker 65532/65532/pam-worker ");
	free(out);

	char *ns = ns_new("image");
	char vaults[300];
	snprintf(vaults, sizeof(vaults), "{\"vaults\":[{\"id\":\"" V_USER "\",\"type\":"
	    "\"UserNamePassword\",\"properties\":{\"UserName\":\"app\",\"Password\":\"" PW "\"}}]}");
	pamsim_start(&pam, vaults, KEY);
	store_setup(ns, &pam, KEY);
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: db, namespace: %s}\nspec:\n  monoStoreRef: {name: pam}\n"
	    "  target: {name: db-secret}\n  data:\n"
	    "  - {secretKey: password, remoteRef: {vaultID: \"" V_USER "\", property: Password}}\n",
	    ns), 0);
	wait_ready(ns, "msec", "db", "True/Synced", 10000);
	char *v = secret_value(ns, "db-secret", "password");
	ck_assert_str_eq(v, PW);
	free(v);
	out = sh_out("ps -eo pgid=,rss=,comm= | awk '$1 == %d && ($3 == \"manager\" || "
	    "$3 == \"pam-worker\") {s += $2} END {print s}'", pgid);
	fprintf(stderr, "image: manager + 2 workers resident: %s KiB\n", out);
	free(out);

	/* stop as the kubelet does, and let it clean up after itself */
	ck_assert_int_eq(sh("kubectl -n %s delete msec db --wait=false >/dev/null", ns), 0);
	wait_jp(ns, "secret", "db-secret", "{.metadata.name}", "", 10000);
	kill(pgid, SIGTERM);   /* PID 1 of the container only */
	for (t0 = now_ms(); group_alive(pgid) && now_ms() - t0 < 10000;)
		sleep_ms(100);
	ck_assert_msg(!group_alive(pgid), "still running 10 s after SIGTERM");
	ck_assert_int_eq(sh("grep -q 'released the leader lease' %s", log), 0);
	pamsim_stop(&pam);
	assert_file_lacks(log, secrets);
	sh("rm -rf %s %s", tok, root);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("image");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, image_runs_the_operator_as_the_deployment_does);
	suite_add_tcase(s, tc);
	return s;
}
