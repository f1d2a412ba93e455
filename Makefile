# zkfs + ensemble build.
#
#   make            build bin/zkensemble, bin/zkfs, bin/zkcli
#   make run        build, install deps, start a one-server ensemble and mount zkfs at ./zk
#   make test       install deps, build, run every test (prints "N passed, N failed")
#   make deps       install the Debian packages the build and tests need (idempotent)
#   make bench      benchmarks against Apache ZooKeeper 3.8 (not part of test)
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS=60 per target
#   make sim        the seeded simulators, long: SEEDS=20000 elections, Zab runs and storage
#                   crash schedules (make test runs a few hundred of each)
#   make install    PREFIX=/usr/local: zkensemble, zkfs, zkcli (so mount -t fuse zkfs works)
#
# Sources are found by wildcard: a new .c file in common/, ensemble/ or zkfs/ is built
# without editing this file. Each tests/unit/test_*.c becomes its own cmocka binary.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   := build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
           -Wno-missing-field-initializers -Icommon -Iensemble -MMD -MP
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
LIBS_COMMON := -luv -lcrypto -lz -lpthread

COMMON_SRC   := $(wildcard common/*.c)
ENSEMBLE_SRC := $(filter-out ensemble/main.c,$(wildcard ensemble/*.c))
ZKFS_SRC     := $(filter-out zkfs/zkcli.c,$(wildcard zkfs/*.c))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)

COMMON_OBJ   := $(COMMON_SRC:%.c=$(BUILD)/%.o)
ENSEMBLE_OBJ := $(ENSEMBLE_SRC:%.c=$(BUILD)/%.o)
ZKFS_OBJ     := $(ZKFS_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

BINS := bin/zkensemble
ifneq ($(ZKFS_SRC),)
BINS += bin/zkfs
endif
ifneq ($(wildcard zkfs/zkcli.c),)
BINS += bin/zkcli
endif

.PHONY: all deps test unit integration fs run bench fuzz install clean sim

all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(findstring zkfs/,$<),$(FUSE_CFLAGS)) -c $< -o $@

$(BUILD)/libzkcommon.a: $(COMMON_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/libensemble.a: $(ENSEMBLE_OBJ)
	@rm -f $@; ar rcs $@ $^

bin/zkensemble: $(BUILD)/ensemble/main.o $(BUILD)/libensemble.a $(BUILD)/libzkcommon.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_COMMON)

bin/zkfs: $(ZKFS_OBJ) $(BUILD)/libzkcommon.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ -lfuse3 $(LIBS_COMMON)

bin/zkcli: $(BUILD)/zkfs/zkcli.o $(BUILD)/libzkcommon.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_COMMON)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libensemble.a $(BUILD)/libzkcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libensemble.a $(BUILD)/libzkcommon.a -lcmocka $(LIBS_COMMON)

# ---- dependencies (Debian) -------------------------------------------------------------
deps:
	@scripts/deps.sh

# ---- tests -----------------------------------------------------------------------------
unit: $(UNIT_BIN)

test: deps
	@$(MAKE) --no-print-directory all unit
	@tests/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh

fuzz:
	@fuzz/run.sh

SEEDS ?= 20000
sim: $(BUILD)/tests/test_election $(BUILD)/tests/test_zab $(BUILD)/tests/test_storage
	ELECTION_SEEDS=$(SEEDS) $(BUILD)/tests/test_election
	ZAB_SEEDS=$(SEEDS) $(BUILD)/tests/test_zab
	STORAGE_CRASH_SEEDS=$(SEEDS) $(BUILD)/tests/test_storage

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(BUILD) bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
