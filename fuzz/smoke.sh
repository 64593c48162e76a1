#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target of this directory and runs each one for a
# short time; exits non-zero if any target crashes (a panic is a failed invariant).
#
#   FUZZ_SECONDS=N     seconds per target (default 20)
#   FUZZ_TARGETS="a b" targets to run (default: all, from `cargo fuzz list`)
#   SIO_FUZZ_SKIP=x,y  switch off named checks in the session targets, to look past a known
#                      bug (see fuzz_targets/common/mod.rs); unset in normal runs
#
# Runs from any directory. Uses the nightly toolchain when rustup has one, otherwise stable
# with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags). Installs cargo-fuzz if it is missing.
# Each target's libFuzzer output goes to target/smoke-logs/<target>.log (printed on failure);
# crash inputs are written to artifacts/<target>/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

seconds="${FUZZ_SECONDS:-20}"
start=$(date +%s)

if command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q nightly; then
    fuzz() { cargo +nightly fuzz "$@"; }
    echo "fuzz-smoke: using the nightly toolchain"
else
    fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
    echo "fuzz-smoke: no nightly toolchain, using RUSTC_BOOTSTRAP=1"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz-smoke: no fuzz target found" >&2
    exit 1
fi

# One build of all targets (the runs below then find it up to date).
fuzz build
built=$(date +%s)
echo "fuzz-smoke: build took $((built - start)) s"

mkdir -p target/smoke-logs
passed=0
failed=()
for t in "${targets[@]}"; do
    log="target/smoke-logs/$t.log"
    t0=$(date +%s)
    if fuzz run "$t" -- -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n1 || true)
        echo "fuzz-smoke: $t ok (${runs:-no run count}, $(($(date +%s) - t0)) s)"
        passed=$((passed + 1))
    else
        echo "fuzz-smoke: $t FAILED ($(($(date +%s) - t0)) s); from $log:"
        if grep -q "panicked at" "$log"; then
            {
                grep -m1 -A1 "panicked at" "$log"
                grep -m1 "Test unit written to" "$log" || true
                sed -n '/^Output of `std::fmt::Debug`:/,/^Reproduce with:/p' "$log" | head -n 100
            } | sed 's/^/    /'
        else
            tail -n 40 "$log" | sed 's/^/    /'
        fi
        failed+=("$t")
    fi
done

echo "fuzz-smoke: total $(($(date +%s) - start)) s"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz-smoke: failed targets: ${failed[*]} (inputs in fuzz/artifacts/<target>/;" \
        "replay with: cargo +nightly fuzz run <target> <input>)"
fi
echo "fuzz-smoke: ${passed} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
