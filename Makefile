# Larder — one non-recursive Makefile.
#
#   make            build larder-server and the tools into build/
#   make run        install missing runtime packages (as root), build, start on conf/larder.conf
#   make test       install missing test packages (as root), build, run every test
#   make bench      redis-benchmark: Larder vs Redis side by side, ratios
#   make bench-pg   Larder in front of PostgreSQL vs straight to PostgreSQL, ratios
#   make compat     Redis's own test suite against larder-server -> redis-compat/COMPAT.md
#   make install    binaries, store modules and a conf that finds them (PREFIX, DESTDIR)
#   make SANITIZE=1 ...   the same with ASan+UBSan (objects in build-san/)
#   make SANITIZE=thread ...   ThreadSanitizer (objects in build-tsan/); make test
#                   also runs the persistence and lock tests against this server
#
# Sources are found by wildcard: a new .c file in a src/ folder is built without
# touching this file. Test programs are tests/<kind>/test_*.c, one binary each.

CC      ?= cc
SANITIZE ?= 0
OPT     ?= -O2

ifeq ($(SANITIZE),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MALLOC_LIBS :=
MALLOC_DEF  := -DLARDER_NO_JEMALLOC
else ifeq ($(SANITIZE),thread)
B        := build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
OPT      := -O1
MALLOC_LIBS :=
MALLOC_DEF  := -DLARDER_NO_JEMALLOC
else
B        := build
SANFLAGS :=
MALLOC_LIBS := -ljemalloc
MALLOC_DEF  :=
endif

CFLAGS  := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes \
           -D_GNU_SOURCE -Isrc -Itests $(MALLOC_DEF) $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LUA_CFLAGS := $(shell pkg-config --cflags lua5.1 2>/dev/null)
# cjson and bit for scripts: Debian's static archives (lua-cjson-dev, lua-bitop-dev),
# linked in so the server needs no extra runtime package.
LUA_LIBS   := -l:liblua5.1-cjson.a -l:liblua5.1-bitop.a $(shell pkg-config --libs lua5.1 2>/dev/null)
SERVER_LIBS := -lev -luring -lssl -lcrypto $(LUA_LIBS) $(MALLOC_LIBS) -lpthread -lm -ldl
TOOL_LIBS   := $(MALLOC_LIBS) -lpthread -lm

UTIL_SRC   := $(wildcard src/util/*.c)
RESP_SRC   := $(wildcard src/resp/*.c)
SQL_SRC    := $(wildcard src/sql/*.c)
SERVER_SRC := $(wildcard src/server/*.c src/kv/*.c src/commands/*.c src/scripting/*.c src/persist/*.c)
SERVER_MAIN := src/server/main.c

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
pic = $(patsubst %.c,$(B)/pic/%.o,$(1))
UTIL_OBJ   := $(call obj,$(UTIL_SRC))
RESP_OBJ   := $(call obj,$(RESP_SRC))
SQL_OBJ    := $(call obj,$(SQL_SRC))
SERVER_OBJ := $(call obj,$(filter-out $(SERVER_MAIN),$(SERVER_SRC)))
MAIN_OBJ   := $(call obj,$(SERVER_MAIN))

LIB_SQL    := $(B)/libsqlengine.a
LIB_CORE   := $(B)/liblarder.a
# position-independent objects for the store modules: util for every module,
# the SQL engine for sqlstore only (MODULE_OBJ_<name>: a module's extra objects)
MODULE_UTIL_OBJ := $(call pic,$(UTIL_SRC))
MODULE_OBJ_sqlstore := $(call pic,$(SQL_SRC))

SERVER_BIN := $(B)/larder-server
TOOL_SRC   := $(wildcard src/tools/*.c)
TOOL_BINS  := $(patsubst src/tools/%.c,$(B)/%,$(TOOL_SRC))
MODULE_SRC := $(wildcard modules/*/*.c)
MODULE_SOS := $(if $(wildcard src/sql/sql.h),$(sort $(foreach d,$(dir $(MODULE_SRC)),$(B)/modules/$(notdir $(patsubst %/,%,$(d))).so)))

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_SRC))
INTEG_LIB := $(call obj,$(filter-out $(INTEG_SRC),$(wildcard tests/integration/*.c)))
SQLT_SRC  := $(wildcard tests/sql/test_*.c tests/crash/test_*.c)
SQLT_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(SQLT_SRC))

.SECONDARY:
.PHONY: all deps deps-run deps-test run test test-tsan test-unit bench bench-pg bench-store bench-sql bench-upsert fuzz-sql fuzz-resp compat crash \
        clean install format format-check depcheck
all: $(SERVER_BIN) $(TOOL_BINS) $(MODULE_SOS)

# ---- packages -------------------------------------------------------------
deps: deps-test
deps-run:
	@sh mk/deps.sh run
deps-test:
	@sh mk/deps.sh test

# ---- compile --------------------------------------------------------------
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(findstring src/scripting/,$<),$(LUA_CFLAGS)) -MMD -MP -c $< -o $@

$(LIB_SQL): $(SQL_OBJ) $(UTIL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(LIB_CORE): $(SERVER_OBJ) $(RESP_OBJ) $(UTIL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SERVER_BIN): $(MAIN_OBJ) $(LIB_CORE) mk/server.dynlist
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) -Wl,--whole-archive $(LIB_CORE) -Wl,--no-whole-archive \
	  -Wl,--dynamic-list=mk/server.dynlist $(SERVER_LIBS)

$(B)/%: $(B)/obj/src/tools/%.o $(LIB_SQL)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)

# Packaging of the engine: sqlstore.so carries the SQL engine; larder-server
# does not. Why this way round rather than a statically registered store:
#  - the dependency runs one way (server -> store API -> module -> engine): the
#    server links no engine object, so nothing in it can call the engine
#    around the store API, and a server that stores in PostgreSQL (or in
#    nothing) carries none of it;
#  - every store, bundled or not, is loaded and configured the same way
#    (loadmodule PATH), so there is one code path to test;
#  - the module links with -Wl,--no-undefined: it is complete by itself.
# The module's symbols are local (mk/module.map) except its entry point and
# the util allocator: those stay global so that, inside larder-server, the
# module's allocations go through the server's own xmalloc (exported by
# mk/server.dynlist, the server's only exports) and count in INFO memory.
# MODULE_FLAGS_<name>: a module's own compiler and linker flags (libraries).
# pgstore links libpq (Debian libpq-dev).
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS   := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
MODULE_FLAGS_pgstore := $(PQ_CFLAGS) $(PQ_LIBS)
.SECONDEXPANSION:
$(B)/modules/%.so: $$(wildcard modules/%/*.c) $$(MODULE_OBJ_$$*) $(MODULE_UTIL_OBJ) mk/module.map \
                   $$(wildcard src/persist/*.h src/sql/sql.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) $(MODULE_OBJ_$*) $(MODULE_UTIL_OBJ) \
	  $(LDFLAGS) $(MODULE_FLAGS_$*) -Wl,--version-script=mk/module.map -Wl,--no-undefined \
	  $(MALLOC_LIBS) -lpthread -lm

$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(LIB_CORE) $(LIB_SQL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(SERVER_LIBS)

# integration tests named test_pg* also talk to PostgreSQL through libpq
$(B)/obj/tests/integration/test_pg%.o: CFLAGS += $(PQ_CFLAGS)
$(B)/tests/integration/test_pg%: TEST_LIBS = $(PQ_LIBS)
$(B)/tests/integration/%: $(B)/obj/tests/integration/%.o $(INTEG_LIB) $(LIB_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lhiredis $(TEST_LIBS) $(SERVER_LIBS)

$(B)/tests/sql/%: $(B)/obj/tests/sql/%.o $(LIB_SQL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS) -lsqlite3
$(B)/tests/crash/%: $(B)/obj/tests/crash/%.o $(LIB_SQL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS) -lsqlite3
# crash tests of the server (test_persist_*) talk to a real larder-server
# through the integration harness
$(B)/tests/crash/test_persist_%: $(B)/obj/tests/crash/test_persist_%.o $(INTEG_LIB) $(LIB_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lhiredis $(SERVER_LIBS)

tests-build: all $(UNIT_BINS) $(INTEG_BINS) $(SQLT_BINS)

# ---- the store's benchmark and long crash run ----------------------------------
$(B)/bench-store: mk/bench-store.c $(LIB_SQL)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_SQL) $(TOOL_LIBS) -lsqlite3

bench-store: $(B)/bench-store
	$(B)/bench-store

# ---- in front of PostgreSQL: mk/bench-pg.c ------------------------------------------
# bench-pg: read-through hits, write-behind and write-through against the same
# work sent straight to a PostgreSQL it starts itself (pgkit), 50 clients,
# medians and ratios, then the invalidation lag of direct writes. About a
# minute; BENCH_PG_SECONDS / _ROUNDS / _CLIENTS / _LAG_SAMPLES change it.
BENCH_PG_OBJ := $(call obj,tests/integration/harness.c tests/integration/pgkit.c tests/integration/pkit.c)
$(B)/bench-pg: mk/bench-pg.c $(BENCH_PG_OBJ)
	$(CC) $(CFLAGS) $(PQ_CFLAGS) -o $@ $< $(BENCH_PG_OBJ) $(LDFLAGS) -lhiredis $(PQ_LIBS) -lm

bench-pg: deps-test all $(B)/bench-pg
	@LARDER_BUILD=$(CURDIR)/$(B) LARDER_SERVER=$(CURDIR)/$(SERVER_BIN) $(B)/bench-pg

# ---- the SQL engine's benchmark and fuzzer --------------------------------------
# bench-sql: the same SQL workload on our engine and on libsqlite3, ratios.
# fuzz-sql: libFuzzer on the SQL front end with ASan+UBSan (clang), for
# FUZZ_SECONDS (default 600); the corpus persists in build-fuzz/corpus, and
# findings (crash-*, timeout-*, slow-unit-*) land in build-fuzz/.
FUZZ_SECONDS ?= 600
$(B)/bench-sql: mk/bench-sql.c $(LIB_SQL)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_SQL) $(TOOL_LIBS) -lsqlite3

bench-sql: $(B)/bench-sql
	$(B)/bench-sql

# bench-upsert: the bundled store's write-behind row statement (an upsert by
# text primary key, 10,000 rows a transaction) on our engine and on
# libsqlite3: seconds and ratio; BENCH_CALLGRIND=1 counts instructions per row.
$(B)/bench-upsert: mk/bench-upsert.c $(LIB_SQL)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_SQL) $(TOOL_LIBS) -lsqlite3

bench-upsert: $(B)/bench-upsert
	@if [ -n "$(BENCH_CALLGRIND)" ]; then mk/bench-upsert.sh $(B); else $(B)/bench-upsert; fi

build-fuzz/fuzz_sql: tests/fuzz/fuzz_sql.c $(SQL_SRC) $(UTIL_SRC) $(wildcard src/sql/*.h)
	@mkdir -p build-fuzz/corpus
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -D_GNU_SOURCE -DLARDER_NO_JEMALLOC -Isrc -o $@ tests/fuzz/fuzz_sql.c $(SQL_SRC) $(UTIL_SRC) -lpthread -lm

fuzz-sql: build-fuzz/fuzz_sql
	build-fuzz/fuzz_sql -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	  -artifact_prefix=build-fuzz/ -dict=tests/fuzz/sql.dict build-fuzz/corpus tests/fuzz/seeds

# fuzz-resp: libFuzzer on the RESP request parser (fuzz_resp) and on a
# client's whole input path through the server objects built without main.c
# (fuzz_client), both with ASan+UBSan (clang), FUZZ_RESP_SECONDS in all
# (default 600, half each; mk/fuzz-resp.sh). Corpora persist in
# build-fuzz/corpus-resp-*; every finding (crash, timeout, leak, oom) is
# written to tests/fuzz/regress-resp/, which make test replays
# (tests/unit/test_fuzz_resp_regress.c).
FUZZ_RESP_SECONDS ?= 600
FZ_FLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined -D_GNU_SOURCE -DLARDER_NO_JEMALLOC -Isrc -Itests
FZ_SERVER_SRC := $(filter-out $(SERVER_MAIN),$(SERVER_SRC)) $(RESP_SRC) $(UTIL_SRC)
FZ_SERVER_OBJ := $(patsubst %.c,build-fuzz/obj/%.o,$(FZ_SERVER_SRC))
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FZ_FLAGS) -fsanitize=fuzzer-no-link $(if $(findstring src/scripting/,$<),$(LUA_CFLAGS)) \
	  -MMD -MP -c $< -o $@

build-fuzz/fuzz_resp: tests/fuzz/fuzz_resp.c $(RESP_SRC) $(UTIL_SRC) $(wildcard src/resp/*.h)
	@mkdir -p build-fuzz
	clang $(FZ_FLAGS) -fsanitize=fuzzer -o $@ tests/fuzz/fuzz_resp.c $(RESP_SRC) $(UTIL_SRC) -lpthread -lm

build-fuzz/fuzz_client: tests/fuzz/fuzz_client.c $(FZ_SERVER_OBJ)
	clang $(FZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(filter-out -ljemalloc,$(SERVER_LIBS))

fuzz-resp: build-fuzz/fuzz_resp build-fuzz/fuzz_client
	@sh mk/fuzz-resp.sh $(FUZZ_RESP_SECONDS)

crash: tests-build
	STORE_CRASH_KILLS=2000 LARDER_BUILD=$(CURDIR)/$(B) $(B)/tests/crash/test_store_crash
	PERSIST_CRASH_KILLS=1000 LARDER_BUILD=$(CURDIR)/$(B) LARDER_SERVER=$(CURDIR)/$(SERVER_BIN) \
	  $(B)/tests/crash/test_persist_crash

# ---- run / test / bench ---------------------------------------------------
run: deps-run all
	$(SERVER_BIN) conf/larder.conf

# One run-all prints one closing line for everything, the TSan pass included
# (in a plain build; a sanitized build is its own check).
test: deps-test
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory depcheck
	@$(MAKE) --no-print-directory -j$$(nproc) tests-build
	@if [ "$(SANITIZE)" = 0 ]; then \
	   $(MAKE) --no-print-directory -j$$(nproc) SANITIZE=thread all && \
	   B=$(B) TSAN_BUILD=build-tsan bash tests/run-all; \
	 else B=$(B) bash tests/run-all; fi

# The store thread, the journal's fsync thread and the loop share state: the
# persistence and lock tests run against a ThreadSanitizer server and its
# store module (build-tsan/), driven by the test programs of this build.
test-tsan:
	@$(MAKE) --no-print-directory SANITIZE=thread all
	@B=$(B) TSAN_BUILD=build-tsan bash tests/run-all tsan

test-unit: tests-build
	@B=$(B) bash tests/run-all unit

# the open-loop load generator of make bench (hiredis async + libev)
$(B)/loadgen: mk/loadgen.c src/util/hdr.c src/util/hdr.h src/util/mem.c
	$(CC) $(CFLAGS) -DLARDER_NO_JEMALLOC -o $@ mk/loadgen.c src/util/hdr.c src/util/mem.c -lhiredis \
	  -lev -lm -lpthread

bench: deps-test all $(B)/loadgen
	@LARDER_BUILD=$(CURDIR)/$(B) /usr/bin/python3 mk/bench.py

compat: deps-test all
	@LARDER_BUILD=$(CURDIR)/$(B) /usr/bin/python3 redis-compat/run-redis-suite --all

# make install [PREFIX=/usr/local] [DESTDIR=staging root]: the binaries in
# $(PREFIX)/bin, the store modules in $(PREFIX)/lib/larder/modules, and
# conf/larder.conf in $(SYSCONFDIR)/larder with its loadmodule line pointing at
# the installed module (PREFIX is where the files will live; DESTDIR only
# stages them). Relative paths left in the conf (store-path, journal-path)
# are relative to the server's working directory.
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
MODULEDIR  ?= $(PREFIX)/lib/larder/modules
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MODULEDIR) $(DESTDIR)$(SYSCONFDIR)/larder
	install -m 755 $(SERVER_BIN) $(TOOL_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(MODULE_SOS) $(DESTDIR)$(MODULEDIR)/
	sed 's|^loadmodule build/modules/|loadmodule $(MODULEDIR)/|' conf/larder.conf \
	  > $(DESTDIR)$(SYSCONFDIR)/larder/larder.conf
	chmod 644 $(DESTDIR)$(SYSCONFDIR)/larder/larder.conf

# Every C file follows .clang-format; make test runs format-check first.
FORMAT_FILES = $$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests modules mk -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@if out=$$(clang-format --dry-run -Werror $(FORMAT_FILES) 2>&1); then \
	   echo "format-check: every C file follows .clang-format"; \
	 else echo "$$out" | grep -m 20 'error:'; \
	   echo "format-check: run 'make format' (files above differ from .clang-format)"; exit 1; fi

# The include edges between src/ folders stay within the set at the top of
# mk/depcheck.py; make test runs it.
depcheck:
	@/usr/bin/python3 mk/depcheck.py

clean:
	rm -rf build build-san build-tsan build-fuzz

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)
-include $(shell find build-fuzz/obj -name '*.d' 2>/dev/null)
