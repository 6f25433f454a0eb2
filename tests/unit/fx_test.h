/* fx_test.h: every unit test file is its own Check executable.
 * Define `static Suite *suite(void)` and end the file with FX_TEST_MAIN(). */
#ifndef FX_TEST_H
#define FX_TEST_H

#include <check.h>
#include <stdlib.h>

#define FX_TEST_MAIN()                                                                             \
	int main(void)                                                                             \
	{                                                                                          \
		SRunner *sr = srunner_create(suite());                                             \
		int failed;                                                                        \
		srunner_run_all(sr, CK_NORMAL);                                                    \
		failed = srunner_ntests_failed(sr);                                                \
		srunner_free(sr);                                                                  \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                  \
	}

#endif
