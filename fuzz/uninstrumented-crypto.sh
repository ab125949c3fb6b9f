#!/usr/bin/env bash
# rustc wrapper for fuzz builds (fuzz/.cargo/config.toml): compiles the cryptographic primitive
# crates without libFuzzer's coverage instrumentation. Their code is constant-time by design (no
# branch depends on the data), so its coverage never changes and only costs time: instrumented,
# the curve arithmetic took about half of the stateful target's run. Sanitizers still apply to
# them; lockbox's own code and every other crate stay fully instrumented.
rustc=$1
shift
case " $* " in
*" --crate-name curve25519_dalek "* | *" --crate-name x25519_dalek "* | *" --crate-name ed25519_dalek "* | \
  *" --crate-name sha2 "* | *" --crate-name ring "* | *" --crate-name hmac "* | *" --crate-name hkdf "* | \
  *" --crate-name argon2 "* | *" --crate-name blake2 "* | *" --crate-name subtle "*)
  args=()
  for arg in "$@"; do
    case $arg in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | -Cllvm-args=-simplifycfg-branch-fold-threshold=*) ;;
    *) args+=("$arg") ;;
    esac
  done
  exec "$rustc" "${args[@]}"
  ;;
esac
exec "$rustc" "$@"
