"""Instructions per wasm function, per request: callgrind's count of node
running the module, attributed to the functions V8 compiled.

callgrind sees V8's generated code only as addresses; `node
--print-wasm-code` prints every compiled function with its name and the
address of its first instruction. This joins the two. Not part of `make
test`; nothing here asserts a count.

    cargo rustc --lib --release --target wasm32-wasip1 --crate-type cdylib \\
      --config 'profile.release.strip=false'
    valgrind --tool=callgrind --dump-instr=yes --smc-check=all-non-file \\
      --callgrind-out-file=/tmp/cg.out \\
      node --print-wasm-code bench/micro/host.mjs \\
      --wasm target/wasm32-wasip1/release/asset_gate.wasm --iters 4000 c > /tmp/code.txt
    python3 bench/micro/wasm_functions.py /tmp/code.txt /tmp/cg.out 5000 [TOP]

The third argument is the number of requests replayed (host.mjs runs
max(1000, iters/4) warm-up requests, then `--iters`): the counts include
the warm-up and the module's configuration, both small beside thousands of
requests.
"""

import bisect
import collections
import re
import sys


def functions(code_listing):
    """(start address, size, name) of every function V8 printed."""
    out, name = [], None
    lines = open(code_listing, errors="replace").read().split("\n")
    for i, line in enumerate(lines):
        if line.startswith("name: "):
            name = line[len("name: "):]
        elif line.startswith("Instructions (size = ") and i + 1 < len(lines):
            size = int(line.split("= ")[1].rstrip(")"))
            first = re.match(r"(0x[0-9a-f]+)", lines[i + 1])
            if first:
                out.append((int(first.group(1), 16), size, name))
    return sorted(out)


def self_costs(callgrind_out, funcs):
    """Instructions executed inside each function (calls excluded)."""
    starts = [f[0] for f in funcs]

    def owner(addr):
        j = bisect.bisect_right(starts, addr) - 1
        if j >= 0 and addr < funcs[j][0] + funcs[j][1]:
            return funcs[j][2]
        return None

    cost = collections.Counter()
    addr, after_call = 0, False
    for line in open(callgrind_out):
        if not line or line[0] not in "0123456789+-*":
            after_call = after_call or line.startswith("calls=")
            continue
        fields = line.split()
        pos = fields[0]
        # --dump-instr=yes: positions are "instr line", the instruction
        # address absolute (0x...), relative (+n/-n) or the same (*).
        if pos.startswith("0x"):
            addr = int(pos, 16)
        elif pos[0] in "+-":
            step = pos[1:]
            step = int(step, 16) if step.startswith("0x") else int(step)
            addr += step if pos[0] == "+" else -step
        if after_call:  # the line after calls= is the call's inclusive cost
            after_call = False
            continue
        if len(fields) > 2:
            name = owner(addr)
            if name:
                cost[name] += int(fields[2])
    return cost


def main():
    code, cg, requests = sys.argv[1], sys.argv[2], float(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    cost = self_costs(cg, functions(code))
    print(f"wasm instructions per request: {sum(cost.values()) / requests:,.0f}")
    for name, n in cost.most_common(top):
        print(f"{n / requests:9,.0f}  {name}")


if __name__ == "__main__":
    main()
