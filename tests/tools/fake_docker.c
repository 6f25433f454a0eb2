/* fake_docker: a stand-in Docker Engine for the controller's integration
 * tests (DOCKER_HOST=tcp://127.0.0.1:PORT). Every request gets the answer
 * named by argv[1]:
 *   not-manager  503 {"message":"This node is not a swarm manager. ..."}
 *   garbage      200 with a body that is not JSON
 *   huge         200 with a JSON string longer than the controller accepts
 * Logs "msg=listening addr=127.0.0.1:PORT" on stderr. */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *mode;

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *up,
                              size_t *up_size, void **state)
{
	static int first;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = 200;
	char *body;
	(void)cls, (void)url, (void)method, (void)version, (void)up;
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	if (*up_size) {
		*up_size = 0;
		return MHD_YES;
	}
	if (strcmp(mode, "not-manager") == 0) {
		status = 503;
		body = strdup(
		    "{\"message\":\"This node is not a swarm manager. Use \\\"docker swarm "
		    "init\\\" or \\\"docker swarm join\\\" to connect this node to swarm and "
		    "try again.\"}");
	} else if (strcmp(mode, "huge") == 0) {
		size_t n = 70u << 20;
		body = malloc(n + 3);
		if (body != NULL) {
			memset(body + 1, 'a', n);
			body[0] = '"';
			body[n + 1] = '"';
			body[n + 2] = '\0';
		}
	} else {
		body = strdup("<html>not json</html>");
	}
	if (body == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	if (argc != 2) {
		fprintf(stderr, "usage: fake_docker not-manager|garbage|huge\n");
		return 2;
	}
	mode = argv[1];
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
	                     NULL, NULL, answer, NULL, MHD_OPTION_END);
	if (d == NULL)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "level=info msg=listening addr=127.0.0.1:%u\n", info ? info->port : 0u);
	for (;;)
		pause();
}
