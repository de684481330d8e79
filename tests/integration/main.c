/*
 * Integration-test runner: suites against the real kube-apiserver that
 * scripts/run-integration started. Optional argument: one suite name.
 */
#include <stdlib.h>
#include <string.h>

#include "suites.h"

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		Suite *(*fn)(void);
	} all[] = {
		{ "sync", sync_suite },
		{ "fields", fields_suite },
		{ "policies", policies_suite },
		{ "behaviour", behaviour_suite },
		{ "stores", stores_suite },
		{ "leader", leader_suite },
		{ "workers", workers_suite },
		{ "watch", watch_suite },
		{ "observability", observability_suite },
		{ "install", install_suite },
		{ "image", image_suite },
		{ "rollout", rollout_suite },
		{ "isolation", isolation_suite },
		{ "leakcheck", leakcheck_suite },
		/* last: its audit of the operator's requests covers the suites above */
		{ "rbac", rbac_suite },
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (argc > 1 && strcmp(argv[1], all[i].name) != 0)
			continue;
		SRunner *sr = srunner_create(all[i].fn());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
