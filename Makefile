# faas: Functions as a Service on Docker Swarm.
#   make            build every program into bin/
#   make test       install deps, then unit (ASan+UBSan), integration and e2e tests
#   make check      build + unit + integration only (no Docker needed)
#   make unit       unit tests only
#   make lint       clang-format, cppcheck, shellcheck
#   make bench      benchmarks in bench/
#   make fuzz       libFuzzer targets in bin/fuzz/ (clang; see fuzz/README.md)
#   make up/down    run / remove the platform on the local swarm
#   make cluster-up/cluster-down  a three-engine swarm on this machine with the
#                   platform on it (MANAGERS=3: three managers); see scripts/cluster.sh
# DEVELOPER=1 (or CI=true) turns warnings into errors.

PROGRAMS := watchdog gateway controller faasctl queue-worker
bin_watchdog := fwatchdog
bin_gateway := faas-gateway
bin_controller := faas-controller
bin_faasctl := faasctl
bin_queue-worker := faas-queue-worker

CC ?= cc
PKGS := libmicrohttpd gnutls libcurl json-c yaml-0.1 libnats
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 \
	-Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wconversion \
	-Wno-sign-conversion
ifneq ($(filter 1 true,$(DEVELOPER) $(CI)),)
WARN += -Werror
endif
BASE := -D_GNU_SOURCE -I. -Icommon -MMD -MP -g
HARDEN := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
SAN := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# Two builds of the same sources: rel (hardened, shipped) and asan (unit tests).
FLAGS_rel := $(HARDEN)
FLAGS_asan := $(SAN)
LDFLAGS_rel := -pie -Wl,-z,relro,-z,now
LDFLAGS_asan := $(SAN)

common_src := $(filter-out common/notls.c,$(wildcard common/*.c))
prog_src = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
built_programs := $(foreach p,$(PROGRAMS),$(if $(wildcard $(p)/main.c),$(p)))
BINS := $(foreach p,$(built_programs),bin/$(bin_$(p)))

# Sample functions written in C: functions/<name>/main.c becomes
# build/rel/functions/<name>/handler, packaged by scripts/images.sh.
FUNC_BINS := $(patsubst %/main.c,build/rel/%/handler,$(wildcard functions/*/main.c))

.SECONDEXPANSION:
.SECONDARY:
.PHONY: FORCE all test check unit integration e2e lint bench up down deps clean format \
	cluster-up cluster-down
all: $(BINS) $(FUNC_BINS)

build/%/.dir:
	@mkdir -p $(@D) && touch $@

define objs
$(patsubst %.c,build/$(1)/%.o,$(2))
endef

build/rel/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(WARN) $(FLAGS_rel) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(WARN) $(FLAGS_asan) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

# libfx.a (common) and lib<program>.a (everything of a program but main.c),
# for each build variant.
define variant
build/$(1)/libfx.a: $(call objs,$(1),$(common_src))
	@rm -f $$@ && ar rcs $$@ $$^
$(foreach p,$(PROGRAMS),
build/$(1)/lib$(p).a: $(call objs,$(1),$(call prog_src,$(p)))
	@rm -f $$@ && ar rcs $$@ $$^
)
endef
$(eval $(call variant,rel))
$(eval $(call variant,asan))

# The gateway serves the web UI from its binary: gateway/embed-ui.sh turns
# ui/* into build/gen/ui_assets.c (rewritten only when it changes).
ui_files = $(sort $(wildcard ui/*.html ui/*.js ui/*.css ui/*.svg ui/*.png ui/*.ico))
build/gen/ui_assets.c: FORCE
	@mkdir -p $(@D) && gateway/embed-ui.sh $(ui_files) >$@.tmp && \
	{ cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@; }
build/%/gen/ui_assets.o: build/gen/ui_assets.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_$*) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<
# The controller's /system/info names the release and the git commit it was
# built from: build/gen/version.h (rewritten only when it changes).
FX_RELEASE := 0.1.0
build/gen/version.h: FORCE
	@mkdir -p $(@D) && sha=$$(git rev-parse HEAD 2>/dev/null || echo unknown) && \
	printf '#define FX_RELEASE "%s"\n#define FX_GIT_SHA "%s"\n' '$(FX_RELEASE)' "$$sha" >$@.tmp && \
	{ cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@; }
build/rel/controller/api.o build/asan/controller/api.o: build/gen/version.h
build/rel/libgateway.a: build/rel/gen/ui_assets.o
build/asan/libgateway.a: build/asan/gen/ui_assets.o
FORCE:

# A program may set LIBS_<dir> to link differently (default: PKG_LIBS).
# fwatchdog is one static PIE (libmicrohttpd without GnuTLS, see
# common/notls.c): 1.2 MiB resident when idle, nothing to copy into an image.
# faas-controller links libmicrohttpd, json-c and libyaml statically and
# libcurl (common/httpc.c: Docker's socket, the gateways' polls) shared, with
# the libraries libcurl needs (scripts/images.sh copies what ldd lists). One
# of them (libldap) loads GnuTLS, so the controller links the real one, not
# common/notls.c, whose stand-ins would otherwise take GnuTLS's place.
NOTLS := build/rel/common/notls.o
LIBS_watchdog = -static-pie -lmicrohttpd -lpthread -lm
# faas-gateway links libcurl (its calls to the controller, common/httpc.c),
# the real GnuTLS, through libmicrohttpd, for HTTPS, and libnats (async.c).
LIBS_gateway = -lmicrohttpd -lgnutls -lcurl -ljson-c -lnats -lpthread -lm
LIBS_controller = -Wl,-Bstatic -lmicrohttpd -ljson-c -lyaml -Wl,-Bdynamic -lgnutls -lcurl \
	-lpthread -lm
bin/fwatchdog: $(NOTLS)
define program
bin/$(bin_$(1)): build/rel/$(1)/main.o build/rel/lib$(1).a build/rel/libfx.a
	@mkdir -p bin
	$$(CC) $(LDFLAGS_rel) $$(LDFLAGS) -o $$@ $$^ $$(or $$(LIBS_$(1)),$$(PKG_LIBS))
endef
$(foreach p,$(built_programs),$(eval $(call program,$(p))))

build/rel/functions/%/handler: build/rel/functions/%/main.o
	$(CC) $(LDFLAGS_rel) $(LDFLAGS) -o $@ $^

# Unit tests: tests/unit/<area>/<name>_test.c, one executable each, linked with
# the area's library (none for common) and libfx, built under ASan + UBSan.
unit_src := $(wildcard tests/unit/*/*_test.c)
UNIT_BINS := $(patsubst tests/unit/%.c,build/asan/tests/unit/%,$(unit_src))
area_lib = $(if $(filter common,$(1)),,build/asan/lib$(1).a)

build/asan/tests/unit/%: build/asan/tests/unit/%.o build/asan/libfx.a \
		$$(call area_lib,$$(firstword $$(subst /, ,$$*)))
	$(CC) $(LDFLAGS_asan) -o $@ $< $(call area_lib,$(firstword $(subst /, ,$*))) \
		build/asan/libfx.a $(PKG_LIBS) $(CHECK_LIBS)

# Small helper programs used by the integration tests and benchmarks.
tool_src := $(wildcard tests/tools/*.c bench/*.c)
TOOLS := $(patsubst %.c,build/rel/%,$(tool_src))
build/rel/tests/tools/%: build/rel/tests/tools/%.o build/rel/libfx.a
	$(CC) $(LDFLAGS_rel) -o $@ $^ $(PKG_LIBS)
build/rel/bench/%: build/rel/bench/%.o build/rel/libfx.a
	$(CC) $(LDFLAGS_rel) -o $@ $^ $(PKG_LIBS)

# Fuzzing (fuzz/README.md): fuzz/<area>_<name>_fuzz.c is a libFuzzer target
# calling <area>'s real parser. `make fuzz` builds bin/fuzz/<area>_<name>_fuzz
# with clang -fsanitize=fuzzer,address,undefined (objects in build/fuzz/); the
# regular build links each target with fuzz/replay_main.c under ASan + UBSan as
# build/asan/fuzz/<area>_<name>_replay, which tests/integration/60-fuzz-replay.sh
# runs over fuzz/corpus/<area>_<name>/ on every test run.
# clang warns differently from gcc: its warnings do not stop `make fuzz`.
FUZZ_CC ?= clang
FUZZ_SAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz_src := $(wildcard fuzz/*_fuzz.c)
fuzz_area = $(firstword $(subst _, ,$(notdir $(1))))
fuzz_lib = $(if $(filter common,$(call fuzz_area,$(2))),,build/$(1)/lib$(call fuzz_area,$(2)).a)
FUZZ_REPLAYS := $(patsubst fuzz/%_fuzz.c,build/asan/fuzz/%_replay,$(fuzz_src))
FUZZ_BINS := $(patsubst fuzz/%.c,bin/fuzz/%,$(fuzz_src))
TOOLS += $(FUZZ_REPLAYS)
build/asan/fuzz/%_replay: build/asan/fuzz/%_fuzz.o build/asan/fuzz/replay_main.o \
		$$(call fuzz_lib,asan,$$*) build/asan/libfx.a
	$(CC) $(LDFLAGS_asan) -o $@ $(filter %.o,$^) $(call fuzz_lib,asan,$*) build/asan/libfx.a \
		$(PKG_LIBS)
build/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE) $(filter-out -Werror,$(WARN)) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<
$(eval $(call variant,fuzz))
bin/fuzz/%: build/fuzz/fuzz/%.o $$(call fuzz_lib,fuzz,$$*) build/fuzz/libfx.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
.PHONY: fuzz
fuzz: $(FUZZ_BINS)

deps:
	@scripts/deps.sh all

unit: $(UNIT_BINS)
	@tests/run.sh unit

check: all $(UNIT_BINS) $(TOOLS)
	@tests/run.sh unit integration

integration: all $(TOOLS)
	@tests/run.sh integration

e2e: all
	@tests/run.sh e2e

# The README's test command: installs what it needs, then every level.
test:
	@scripts/deps.sh all
	@$(MAKE) --no-print-directory -j$$(nproc) all $(UNIT_BINS) $(TOOLS)
	@tests/run.sh unit integration e2e

lint:
	@scripts/lint.sh

bench: all $(TOOLS)
	@for b in bench/*.sh; do [ -x "$$b" ] && "$$b"; done; true

up:
	@scripts/deps.sh all
	@$(MAKE) --no-print-directory all
	@scripts/up.sh

down:
	@scripts/down.sh

MANAGERS ?= 1
cluster-up:
	@scripts/deps.sh all
	@$(MAKE) --no-print-directory all
	@scripts/cluster.sh up --managers $(MANAGERS)

cluster-down:
	@scripts/cluster.sh down

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
