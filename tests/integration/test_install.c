/*
 * install: what a user applies is accepted by a real API server. Every
 * manifest under deploy/ and the chart (which passes helm lint
 * --strict) rendered with several sets of values pass `kubectl apply
 * --dry-run=server --validate=strict` without a warning; the chart's
 * defaults give deploy/'s objects; the operator's pod passes the
 * restricted Pod Security Standard (and a loosened one does not);
 * kubectl explain shows a description for every field of both CRDs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* helm - the pinned helm run-integration built (scripts/helm-build). */
static const char *helm(void)
{
	const char *h = getenv("PAMOP_HELM");
	ck_assert_msg(h && *h, "PAMOP_HELM is not set: run through scripts/run-integration");
	return h;
}

/* expect_clean - cmd exits 0 and prints no warning; else fail with what
 * it printed. */
static void expect_clean(const char *what, const char *cmd)
{
	char *out = sh_out("( %s ) 2>&1; echo \"rc=$?\"", cmd);
	const char *rc = strrchr(out, '\n');

	rc = rc ? rc + 1 : out;
	ck_assert_msg(strcmp(rc, "rc=0") == 0 && strstr(out, "Warning") == NULL,
	    "%s:\n%s", what, out);
	free(out);
}

/* render - helm template into file; fails the test if helm does. */
static void render(const char *file, const char *release, const char *ns, const char *args)
{
	char *err = sh_out("%s template %s charts/pam-operator -n %s %s >%s 2>%s.err; "
	    "echo $?; grep -v 'found symbolic link' %s.err", helm(), release, ns, args, file,
	    file, file);
	ck_assert_msg(err[0] == '0', "helm template %s failed:\n%s", args, err);
	free(err);
}

START_TEST(deploy_manifests_pass_server_dry_run)
{
	static const char *const kdirs[] = {
		"deploy", "deploy/crds", "deploy/operator", "deploy/namespaced",
	};
	char cmd[512];

	/* The namespace must exist for its objects to be dry-run. */
	ck_assert_int_eq(sh("kubectl apply -f deploy/operator/namespace.yaml >/dev/null"), 0);
	for (size_t i = 0; i < sizeof(kdirs) / sizeof(kdirs[0]); i++) {
		snprintf(cmd, sizeof(cmd), "kubectl apply --dry-run=server --validate=strict "
		    "-k %s", kdirs[i]);
		expect_clean(kdirs[i], cmd);
	}
	/* and each file alone, as the seed applies them one by one */
	char *files = sh_out("ls deploy/crds/*.yaml deploy/operator/*.yaml deploy/namespaced/*.yaml "
	    "deploy/examples/*.yaml | grep -v kustomization.yaml");
	int n = 0;
	for (char *save = NULL, *f = strtok_r(files, "\n", &save); f;
	    f = strtok_r(NULL, "\n", &save), n++) {
		snprintf(cmd, sizeof(cmd), "kubectl apply --dry-run=server --validate=strict -f %s", f);
		expect_clean(f, cmd);
	}
	ck_assert_int_ge(n, 12);
	free(files);
}
END_TEST

START_TEST(chart_renders_pass_server_dry_run)
{
	char *relns = ns_new("chart"), *wa = ns_new("chart-wa"), *wb = ns_new("chart-wb");
	char file[300], cmd[700], sets[5][600];
	const char *ca = getenv("PAMSIM_CA");

	char *lint = sh_out("%s lint --strict charts/pam-operator 2>&1 | grep -v 'symbolic link'; "
	    "echo rc=$?", helm());
	ck_assert_msg(strstr(lint, "0 chart(s) failed") != NULL, "helm lint:\n%s", lint);
	free(lint);
	ck_assert_int_eq(sh("kubectl apply -f tests/fixtures/crds/servicemonitors.yaml >/dev/null && "
	    "kubectl wait --for condition=established --timeout=30s "
	    "crd/servicemonitors.monitoring.coreos.com >/dev/null"), 0);
	snprintf(sets[0], sizeof(sets[0]), "--include-crds");
	snprintf(sets[1], sizeof(sets[1]), "--set 'watchNamespaces={%s,%s}'", wa, wb);
	snprintf(sets[2], sizeof(sets[2]), "--set serviceMonitor.enabled=true "
	    "--set serviceMonitor.labels.release=prom --set serviceMonitor.scrapeTimeout=10s "
	    "--set replicaCount=2 --set logFormat=json --set logLevel=debug --set workers=4 "
	    "--set 'extraArgs={--allow-cross-namespace-keys}' --set-file pamCA.pem=%s",
	    ca && *ca ? ca : "/dev/null");
	snprintf(sets[3], sizeof(sets[3]), "--set pamCA.existingConfigMap=corp-ca "
	    "--set pamCA.key=bundle.pem --set leaderElection.enabled=false "
	    "--set metrics.enabled=false --set allowCrossNamespaceKeys=true");
	snprintf(sets[4], sizeof(sets[4]), "--set rbac.create=false --set serviceAccount.create=false "
	    "--set serviceAccount.name=existing --set seccompProfile.type=Localhost "
	    "--set seccompProfile.localhostProfile=operator/pam-operator.json "
	    "--set leaderElection.id=my-lease");
	for (int i = 0; i < 5; i++) {
		snprintf(file, sizeof(file), "%s/chart-%d.yaml", logs_dir(), i);
		render(file, "chart-test", relns, sets[i]);
		snprintf(cmd, sizeof(cmd), "kubectl apply --dry-run=server --validate=strict -f %s", file);
		expect_clean(sets[i], cmd);
	}
	/* what each set should have rendered */
	snprintf(file, sizeof(file), "%s/chart-1.yaml", logs_dir());
	ck_assert_int_eq(sh("grep -q -- '--namespaces=%s,%s' %s && "
	    "test $(grep -c 'kind: RoleBinding' %s) = 3 && ! grep -q 'kind: ClusterRoleBinding' %s",
	    wa, wb, file, file, file), 0);
	snprintf(file, sizeof(file), "%s/chart-2.yaml", logs_dir());
	ck_assert_int_eq(sh("grep -q 'kind: ServiceMonitor' %s && grep -q 'kind: ConfigMap' %s && "
	    "grep -q -- '--pam-ca-file=/etc/pam-operator/pam-ca/ca.crt' %s", file, file, file), 0);
	snprintf(file, sizeof(file), "%s/chart-4.yaml", logs_dir());
	ck_assert_int_eq(sh("! grep -q 'kind: ClusterRole' %s && ! grep -q 'kind: ServiceAccount' %s && "
	    "grep -q -- '--leader-election-id=my-lease' %s && grep -q 'my-lease' %s",
	    file, file, file, file), 0);

	/* combinations that cannot work are refused at render time */
	char *out = sh_out("%s template x charts/pam-operator --set replicaCount=2 "
	    "--set leaderElection.enabled=false 2>&1", helm());
	ck_assert_msg(strstr(out, "needs leaderElection.enabled") != NULL, "%s", out);
	free(out);
	out = sh_out("%s template x charts/pam-operator --set serviceMonitor.enabled=true "
	    "--set metrics.enabled=false 2>&1", helm());
	ck_assert_msg(strstr(out, "serviceMonitor.enabled needs") != NULL, "%s", out);
	free(out);
	ns_delete(relns); ns_delete(wa); ns_delete(wb);
	free(relns); free(wa); free(wb);
}
END_TEST

START_TEST(chart_defaults_render_deploy_objects)
{
	char k[300], h[300];

	snprintf(k, sizeof(k), "%s/kustomize.json", logs_dir());
	snprintf(h, sizeof(h), "%s/helm.json", logs_dir());
	render(h, "pam-operator", "pam-operator-system", "--include-crds");
	ck_assert_int_eq(sh("kubectl create --dry-run=client -o json -f %s > %s.tmp && mv %s.tmp %s",
	    h, h, h, h), 0);
	ck_assert_int_eq(sh("kubectl kustomize deploy | kubectl create --dry-run=client -o json -f - "
	    "> %s", k), 0);
	char *diff = sh_out("python3 tests/integration/compare_render.py %s %s 2>&1; echo rc=$?", k, h);
	ck_assert_msg(strstr(diff, "rc=0") != NULL && strstr(diff, "compared 9 objects"),
	    "chart defaults differ from deploy/:\n%s", diff);
	free(diff);
}
END_TEST

/* pod_dry_run - the Deployment's pod template, created as a bare Pod
 * in the restricted namespace (dry run); mutation is a kubectl JSON
 * patch applied first, or NULL. Returns kubectl's output and status. */
static char *pod_dry_run(const char *deploy_file, const char *mutation)
{
	char pod[300];

	snprintf(pod, sizeof(pod), "%s/pss-pod.json", logs_dir());
	char *spec = sh_out("kubectl create --dry-run=client -f %s -o jsonpath='{.spec.template.spec}'",
	    deploy_file);
	FILE *f = fopen(pod, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pss-probe\","
	    "\"namespace\":\"pam-operator-system\"},\"spec\":%s}\n", spec);
	fclose(f);
	free(spec);
	if (mutation)
		ck_assert_int_eq(sh("kubectl patch --local --type=json -p '%s' -f %s -o json > %s.m && "
		    "mv %s.m %s", mutation, pod, pod, pod, pod), 0);
	return sh_out("kubectl apply --dry-run=server -f %s 2>&1; echo rc=$?", pod);
}

START_TEST(pod_passes_restricted_pod_security)
{
	char *ns = sh_out("kubectl get namespace pam-operator-system -o "
	    "jsonpath='{.metadata.labels.pod-security\\.kubernetes\\.io/enforce}'");
	char file[300], *out;

	ck_assert_str_eq(ns, "restricted");
	free(ns);
	out = pod_dry_run("deploy/operator/deployment.yaml", NULL);
	ck_assert_msg(strstr(out, "rc=0") && !strstr(out, "Warning"), "%s", out);
	free(out);
	/* the chart with a Localhost seccomp profile passes as well */
	snprintf(file, sizeof(file), "%s/chart-localhost.yaml", logs_dir());
	render(file, "pam-operator", "pam-operator-system", "--set seccompProfile.type=Localhost "
	    "--set seccompProfile.localhostProfile=operator/pam-operator.json "
	    "--show-only templates/deployment.yaml");
	out = pod_dry_run(file, NULL);
	ck_assert_msg(strstr(out, "rc=0") && !strstr(out, "Warning"), "%s", out);
	free(out);
	/* and the check bites: each loosening is refused */
	static const char *const loosen[] = {
		("[{\"op\":\"remove\",\"path\":"
		    "\"/spec/containers/0/securityContext/allowPrivilegeEscalation\"}]"),
		"[{\"op\":\"remove\",\"path\":\"/spec/securityContext/seccompProfile\"}]",
		"[{\"op\":\"replace\",\"path\":\"/spec/securityContext/runAsUser\",\"value\":0}]",
		"[{\"op\":\"remove\",\"path\":\"/spec/containers/0/securityContext/capabilities\"}]",
	};
	for (size_t i = 0; i < sizeof(loosen) / sizeof(loosen[0]); i++) {
		out = pod_dry_run("deploy/operator/deployment.yaml", loosen[i]);
		ck_assert_msg(strstr(out, "violates PodSecurity") != NULL, "%s accepted:\n%s",
		    loosen[i], out);
		free(out);
	}
}
END_TEST

START_TEST(explain_shows_field_descriptions)
{
	char *out = sh_out("kubectl explain monosecret.spec.target 2>&1");

	/* the field itself and each of its fields carry a description */
	ck_assert_msg(strstr(out, "The Kubernetes Secret to write") != NULL, "%s", out);
	static const char *const fields[] = {
		"creationPolicy\t<string>", "deletionPolicy\t<string>", "name\t<string>",
		"template\t<Object>",
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *f = strstr(out, fields[i]);
		ck_assert_msg(f != NULL, "no field %s in:\n%s", fields[i], out);
		/* the line after the field (after an enum line, if any) is prose */
		const char *nl = strchr(f, '\n');
		if (nl && strncmp(nl + 1, "  enum:", 7) == 0)
			nl = strchr(nl + 1, '\n');
		ck_assert_msg(nl && strncmp(nl + 1, "    ", 4) == 0 && nl[5] >= 'A' && nl[5] <= 'Z',
		    "%s has no description:\n%s", fields[i], out);
	}
	ck_assert_ptr_nonnull(strstr(out, "Merge - the synced keys"));
	free(out);
	out = sh_out("kubectl explain monostore.spec.provider.monoforPAM.auth.accessKeySecretRef"
	    ".namespace 2>&1");
	ck_assert_msg(strstr(out, "--allow-cross-namespace-keys") != NULL, "%s", out);
	free(out);

	/* every field of both CRDs, as the server serves them */
	out = sh_out("kubectl get crd monostores.pam.monofor.com monosecrets.pam.monofor.com "
	    "-o json | python3 -c '\n"
	    "import json, sys\n"
	    "def walk(s, p):\n"
	    "    for k, v in s.get(\"properties\", {}).items():\n"
	    "        if k != \"metadata\" and not v.get(\"description\"): print(p + \".\" + k)\n"
	    "        walk(v, p + \".\" + k)\n"
	    "        walk(v.get(\"items\", {}), p + \".\" + k + \"[]\")\n"
	    "n = 0\n"
	    "for c in json.load(sys.stdin)[\"items\"]:\n"
	    "    v = c[\"spec\"][\"versions\"][0]\n"
	    "    walk(v[\"schema\"][\"openAPIV3Schema\"], c[\"spec\"][\"names\"][\"kind\"])\n"
	    "    n += 1\n"
	    "print(\"crds\", n)'");
	ck_assert_msg(strcmp(out, "crds 2") == 0, "fields without a description:\n%s", out);
	free(out);
}
END_TEST

Suite *install_suite(void)
{
	Suite *s = suite_create("install");
	TCase *tc = tcase_create("manifests");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, deploy_manifests_pass_server_dry_run);
	tcase_add_test(tc, chart_renders_pass_server_dry_run);
	tcase_add_test(tc, chart_defaults_render_deploy_objects);
	tcase_add_test(tc, pod_passes_restricted_pod_security);
	tcase_add_test(tc, explain_shows_field_descriptions);
	suite_add_tcase(s, tc);
	return s;
}
