/*
 * kube_classify: requests become (verb, resource) metric labels with no
 * namespace or object name in them.
 */
#include <string.h>

#include "kube.h"
#include "suites.h"

static void expect(const char *method, const char *path, const char *verb, const char *res)
{
	char v[8], r[40];

	kube_classify(method, path, v, sizeof(v), r, sizeof(r));
	ck_assert_msg(strcmp(v, verb) == 0 && strcmp(r, res) == 0,
	    "%s %s: got %s %s, want %s %s", method, path, v, r, verb, res);
}

START_TEST(core_and_group_paths)
{
	expect("GET", "/api/v1/namespaces/ns1/secrets/db", "GET", "secrets");
	expect("PUT", "/api/v1/namespaces/ns1/secrets/db", "PUT", "secrets");
	expect("POST", "/api/v1/namespaces/ns1/secrets", "POST", "secrets");
	expect("POST", "/api/v1/namespaces/ns1/events", "POST", "events");
	expect("GET", "/api/v1/secrets?limit=500&labelSelector=a%3Db", "LIST", "secrets");
	expect("GET", "/apis/pam.monofor.com/v1alpha1/monosecrets?limit=500", "LIST",
	    "monosecrets");
	expect("WATCH", "/apis/apps/v1/deployments?watch=1&resourceVersion=5", "WATCH",
	    "deployments");
	expect("PATCH", "/apis/pam.monofor.com/v1alpha1/namespaces/a/monosecrets/b/status",
	    "PATCH", "monosecrets/status");
	expect("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", "PUT",
	    "leases");
	expect("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", "PATCH",
	    "deployments");
}
END_TEST

START_TEST(names_never_leak_into_labels)
{
	/* a namespace called "secrets" and an object called "status" */
	expect("GET", "/api/v1/namespaces/secrets/configmaps/status", "GET", "configmaps");
	expect("GET", "/api/v1/namespaces/ns", "GET", "namespaces");
	expect("GET", "/api/v1/namespaces", "LIST", "namespaces");
	/* odd paths fall back to "other" rather than echo their text */
	expect("GET", "/version", "GET", "other");
	expect("GET", "/", "GET", "other");
	expect("GET", "/api/v1/namespaces/ns/Secrets\"x", "LIST", "other");
	expect("GET", "/api/v1/namespaces/ns/secrets/n/Status{}", "GET", "secrets");
}
END_TEST

Suite *kube_classify_suite(void)
{
	Suite *s = suite_create("kube_classify");
	TCase *tc = tcase_create("kube_classify");

	tcase_add_test(tc, core_and_group_paths);
	tcase_add_test(tc, names_never_leak_into_labels);
	suite_add_tcase(s, tc);
	return s;
}
