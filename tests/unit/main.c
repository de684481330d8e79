/*
 * Unit-test runner: every suite in one binary, one Check summary line
 * per suite, exit status non-zero if any test failed.
 */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	Suite *(*const all[])(void) = {
		duration_suite, kubeconfig_suite, log_suite, util_suite, pam_api_suite,
		totp_suite, proto_suite, queue_suite, spec_suite, datamap_suite, scope_suite,
		rollout_suite, sandbox_suite, resolve_suite,
		ratelimit_suite, kube_classify_suite, metrics_suite, sup_suite,
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		SRunner *sr = srunner_create(all[i]());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
