/* POST / with an Alexa SDK body: gw_alexa_intent picks the function name.
 * Invariant: a name it returns is a valid DNS-1123 label. */
#include "fuzz.h"
#include "gateway/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[GW_NAME_MAX + 1];

	memset(out, 'x', sizeof(out));
	if (gw_alexa_intent((const char *)data, size, out) == 0)
		FZ_ASSERT(gw_name_valid(out, strlen(out)));
	return 0;
}
