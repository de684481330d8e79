/* suites - every integration suite, for the runner in main.c. */
#ifndef PAMOP_ITEST_SUITES_H
#define PAMOP_ITEST_SUITES_H

#include <check.h>

Suite *sync_suite(void);
Suite *install_suite(void);
Suite *image_suite(void);
Suite *rbac_suite(void);
Suite *rollout_suite(void);
Suite *fields_suite(void);
Suite *policies_suite(void);
Suite *behaviour_suite(void);
Suite *stores_suite(void);
Suite *leader_suite(void);
Suite *workers_suite(void);
Suite *watch_suite(void);
Suite *observability_suite(void);
Suite *isolation_suite(void);
Suite *leakcheck_suite(void);

#endif
