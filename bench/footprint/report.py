#!/usr/bin/env python3
"""The footprint report of the Cortex-M3 probes (bench/footprint.sh runs it).

For each probe image: flash (text + data) and RAM (data + bss) from arm-none-eabi-size, the
sizeof() values the probe wrote into its .qmtkit_sizes section, where the flash goes (by object
file), and every symbol a firmware image of the core must not hold (heap, abort, C++ runtime and
exception support, 64-bit division helpers): the core function that pulled it in, the chain of
calls from there, and what the image would lose without it.

The chains come from the image itself: the probes link with --emit-relocs, so every reference
the linker kept is still there after --gc-sections; the map file says which object each input
section came from. Nothing here is a guess from source.

  report.py --build DIR [--json FILE] [--check] [--image NAME=ELF[,WHAT[,CONFIG]]]...
--check: exit 1 when a heap function, abort, __cxa_* or std::__throw_* is in any image, or when
an issue-10 target (TARGETS below) is exceeded.
"""
import argparse
import collections
import datetime
import json
import os
import re
import struct
import subprocess
import sys

# The images of the report, one row each: (image name in the build directory, what it links,
# configuration). A row for an image built elsewhere is one more entry (or --image on the command
# line); its .map beside the .elf gives the per-object breakdown and the call chains.
PROBES = [
    ("probe_engine", "AT engine alone", "default"),
    ("probe_engine_compact", "AT engine alone", "compact"),
    ("probe_ops", "engine + low-level operations", "default"),
    ("probe_ops_compact", "engine + low-level operations", "compact"),
    ("probe_client", "+ supervisor, outbox (full client)", "default"),
    ("probe_compact", "+ supervisor, outbox (full client)", "compact"),
    ("probe_aliyun", "full client + Aliyun profile", "default"),
    ("probe_aliyun_compact", "full client + Aliyun profile", "compact"),
    ("probe_image", "full client + image parser, profiles", "default"),
    ("probe_image_compact", "full client + image parser, profiles", "compact"),
    ("probe_firmware", "firmware (*): client + Aliyun", "default"),
    ("probe_firmware_compact", "firmware (*): client + Aliyun", "compact"),
    ("probe_compact_fw", "firmware (*): full client", "compact"),
]
# The RAM of Client<Config>'s parts (qmtkit_sizeof_part_<key>_<config>), in table order.
PARTS = [
    ("outbox_pool", "outbox pool (queued publishes: header + topic + payload)"),
    ("line_buffer", "line buffer (incoming +QMTRECV topic + payload)"),
    ("command_pool", "command pool (queued command lines)"),
    ("command_queue", "command queue slots"),
    ("result_slots", "awaited-result slots"),
    ("urc_table", "URC handler table"),
    ("trace_buffer", "trace buffer (QMTKIT_TRACE)"),
    ("engine_core", "engine state (at::EngineCore)"),
    ("subscriptions", "subscription table"),
    ("filters", "subscription filter pool"),
    ("session_strings", "session strings (ids, credentials, will, token)"),
    ("client_core", "client state (qmt::ClientCore: supervisor, outbox, ...)"),
]
# Features of the firmware image and the functions that are them (regex on the demangled name
# without arguments), for "what each feature costs": docs/porting.md itemises from this.
FEATURE_PROBES = ("probe_firmware",)
FEATURES = [
    ("engine: settling the line after a timeout (ESC / AT probes)",
     r"EngineCore::(begin_settle|settle_probe)$"),
    ("engine: payload echo skipping", r"EngineCore::skip_payload_echo$"),
    ("engine: one-byte fast path (plain_state)", r"EngineCore::plain_state$"),
    ("engine: abandon() (link drops, stop)", r"EngineCore::abandon$"),
    ("engine: abort_all() (reboots, port resets)", r"EngineCore::abort_all$"),
    ("engine: claimed URCs (+QMTRECV raw bytes)",
     r"EngineCore::(rx_claim|offer_claim|claim_cut|start_claim_overflow|end_claim_overflow)$"),
    ("engine: +CME ERROR parsing", r"^qmtkit::at::cme_parse$"),
    ("client: will (AT+QMTCFG=\"will\")",
     r"{anon}::will$|SessionStore::will$"),
    ("client: aliauth bring-up", r"{anon}::aliauth$|SessionStore::aliauth$"),
    ("client: outbox store journaling (loading)", r"Outbox::load_stored$"),
    ("client: unsubscribe()", r"Subscriptions::unsubscribe$"),
    ("client: incoming +QMTRECV parser", r"^qmtkit::qmt::parse_recv(_overflow)?$"),
    ("client: topic filter matching", r"^qmtkit::qmt::topic_matches$"),
    ("client: back-off with jitter", r"Supervisor::back_off$"),
    ("client: session copy and validation (configure)", r"SessionStore::assign$"),
    ("Aliyun device profile (cloud::aliyun)", r"^qmtkit::cloud::aliyun$"),
]
PART_CONFIGS = [("default", "Client<>"), ("compact", "Client<Compact>"),
                ("compact_fw", "Compact, fw (*)")]
# Issue 10's targets, shown beside the measured values; --check fails when one is exceeded.
TARGETS = {
    "client_profile_flash": 16 * 1024,  # engine + client + one cloud profile (lib flash)
    "sizeof_client": 9 * 1024,  # sizeof(Client<>)
    "sizeof_client_compact": 3 * 1024,  # sizeof(Client<CompactConfig>)
}
# Which measured value each target is about: (probe or None for sizeof, key).
TARGET_OF = {
    "client_profile_flash": ("probe_aliyun", "flash_lib"),
    "sizeof_client": (None, "client"),
    "sizeof_client_compact": (None, "client_compact"),
}

# Symbols a "no heap, no exceptions" image must not hold. `fail`: the test fails on them.
FORBIDDEN = [
    # (category, regex on the mangled name, fail)
    ("heap", r"^_?(malloc|free|realloc|calloc)$|^_(malloc|free|realloc|calloc)_r$|^_sbrk(_r)?$",
     True),
    ("abort", r"^abort$", True),
    ("c++ runtime", r"^__cxa_", True),
    ("exceptions", r"^_ZSt\d+__throw_|^__gxx_personality|^_Unwind_", True),
    ("64-bit division", r"^__aeabi_u?ldivmod$|^__u?divdi3$|^__u?moddi3$|^__udivmoddi4$", False),
]


# ------------------------------------------------------------------ a minimal ELF32 reader


class Elf:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 1 or d[5] != 1:
            raise SystemExit(f"{path}: not a little-endian ELF32 file")
        (self.e_shoff,) = struct.unpack_from("<I", d, 0x20)
        self.e_shentsize, self.e_shnum, self.e_shstrndx = struct.unpack_from("<HHH", d, 0x2E)
        self.sections = []
        for i in range(self.e_shnum):
            off = self.e_shoff + i * self.e_shentsize
            name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from(
                "<IIIIIIIIII", d, off)
            self.sections.append(dict(name_off=name, type=typ, flags=flags, addr=addr,
                                      offset=offset, size=size, link=link, info=info,
                                      entsize=entsize))
        shstr = self.sections[self.e_shstrndx]
        for s in self.sections:
            s["name"] = self._str(shstr, s["name_off"])
        self.symbols = []
        for s in self.sections:
            if s["type"] == 2:  # SHT_SYMTAB
                strtab = self.sections[s["link"]]
                for k in range(s["size"] // 16):
                    name, value, size, info, other, shndx = struct.unpack_from(
                        "<IIIBBH", d, s["offset"] + k * 16)
                    self.symbols.append(dict(name=self._str(strtab, name), value=value, size=size,
                                             type=info & 0xF, bind=info >> 4, shndx=shndx))

    def _str(self, sec, off):
        start = sec["offset"] + off
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("utf-8", "replace")

    def section(self, name):
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def alloc_section_at(self, addr):
        for s in self.sections:
            if s["flags"] & 2 and s["type"] != 8 and s["addr"] <= addr < s["addr"] + s["size"]:
                return s
        return None

    def read(self, addr, n):
        s = self.alloc_section_at(addr)
        if s is None:
            return None
        off = s["offset"] + addr - s["addr"]
        return self.data[off:off + n]

    def relocations(self):
        """(site address, target address) of every relocation kept in allocated sections."""
        out = []
        for s in self.sections:
            if s["type"] != 9:  # SHT_REL
                continue
            target_sec = self.sections[s["info"]]
            if not target_sec["flags"] & 2:
                continue  # debug sections
            symtab = self.sections[s["link"]]
            for k in range(s["size"] // 8):
                r_offset, r_info = struct.unpack_from("<II", self.data, s["offset"] + k * 8)
                rtype, sym_index = r_info & 0xFF, r_info >> 8
                sym_off = symtab["offset"] + sym_index * 16
                _, value, _, info, _, _ = struct.unpack_from("<IIIBBH", self.data, sym_off)
                target = self._target(r_offset, rtype, value, info & 0xF)
                if target is not None:
                    out.append((r_offset, target))
        return out

    def _target(self, site, rtype, sym_value, sym_type):
        if rtype == 2:  # R_ARM_ABS32: the linked word is the target (a section symbol + addend)
            w = self.read(site, 4)
            return (struct.unpack("<I", w)[0] & ~1) if w else None
        if rtype in (10, 30):  # R_ARM_THM_CALL, R_ARM_THM_JUMP24: decode the BL / B.W
            if sym_type != 3:  # a named symbol: that is the target
                return sym_value & ~1
            w = self.read(site, 4)
            if not w:
                return None
            h1, h2 = struct.unpack("<HH", w)
            s = (h1 >> 10) & 1
            i1 = 1 - (((h2 >> 13) & 1) ^ s)
            i2 = 1 - (((h2 >> 11) & 1) ^ s)
            imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((h1 & 0x3FF) << 12) | ((h2 & 0x7FF) << 1)
            if s:
                imm -= 1 << 25
            return site + 4 + imm
        if rtype == 42 or rtype == 3:  # R_ARM_PREL31 (exidx), R_ARM_REL32
            return sym_value & ~1 if sym_type != 3 else None
        return sym_value & ~1 if sym_type != 3 else None


# ------------------------------------------------------------------ the map file


def parse_map(path):
    """Input sections kept in allocated output sections: (name, addr, size, object, out)."""
    sections = []
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        raise SystemExit(f"{path}: not a GNU ld map file")
    out = None
    pending = None
    head = re.compile(r"^(\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)")
    inp = re.compile(r"^ (\.\S+|COMMON)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    inp_name_only = re.compile(r"^ (\.\S+|COMMON)$")
    inp_rest = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    for line in lines[start:]:
        m = head.match(line)
        if m:
            out = m.group(1)
            pending = None
            continue
        if out not in (".text", ".ARM.exidx", ".ARM.extab", ".init_array", ".data", ".bss"):
            continue
        m = inp.match(line)
        if m:
            sections.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16),
                             m.group(4).strip(), out))
            pending = None
            continue
        m = inp_name_only.match(line)
        if m:
            pending = m.group(1)
            continue
        if pending:
            m = inp_rest.match(line)
            if m:
                sections.append((pending, int(m.group(1), 16), int(m.group(2), 16),
                                 m.group(3).strip(), out))
            pending = None
    return [s for s in sections if s[2] > 0]


def object_group(obj):
    """A short name for where code came from: engine.cpp, probe, libc_nano, libgcc, ..."""
    m = re.search(r"lib([\w+]+)\.a\(([^)]+)\)$", obj)
    if m:
        lib, member = m.group(1), m.group(2)
        if lib in ("qmtkit_core", "qmtkit_cloud_device", "qmtkit_core_fw",
                   "qmtkit_cloud_device_fw"):
            return re.sub(r"\.obj$|\.o$", "", member)
        return "lib" + lib
    base = os.path.basename(obj)
    if base.startswith("probe_"):
        return "probe"
    if base.startswith(("startup", "stubs")):
        return "startup"
    return re.sub(r"\.obj$|\.o$", "", base)


def is_qmtkit(obj, label):
    """Code of the core (or a probe) itself, not a std:: template instantiated in its object."""
    if not ("libqmtkit_" in obj or os.path.basename(obj).startswith("probe_")):
        return False
    return not re.match(r"^(\S+ )?(std::|string_view)", label)


# ------------------------------------------------------------------ analysis


def demangle(names):
    names = list(names)
    if not names:
        return {}
    try:
        out = subprocess.run(["arm-none-eabi-c++filt"], input="\n".join(names), text=True,
                             capture_output=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {n: n for n in names}
    return dict(zip(names, out))


def shorten(name):
    """Drops the argument lists and the std::basic_string_view spelled out."""
    name = name.replace("std::basic_string_view<char, std::char_traits<char> >", "string_view")
    name = name.replace("(anonymous namespace)", "{anon}")
    depth, out = 0, []
    for ch in name:
        if ch == "(":
            depth += 1
            if depth == 1:
                out.append("()")
            continue
        if ch == ")":
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


def size_of(path):
    out = subprocess.run(["arm-none-eabi-size", path], text=True, capture_output=True,
                         check=True).stdout.split("\n")
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


def analyse(elf_path, map_path, features=()):
    elf = Elf(elf_path)
    text, data, bss = size_of(elf_path)

    # sizeof() values.
    sizes = {}
    sz = elf.section(".qmtkit_sizes")
    if sz is not None:
        idx = elf.sections.index(sz)
        for s in elf.symbols:
            if s["shndx"] == idx and s["name"].startswith("qmtkit_sizeof_"):
                off = sz["offset"] + s["value"] - sz["addr"]
                (v,) = struct.unpack_from("<I", elf.data, off)
                sizes[s["name"][len("qmtkit_sizeof_"):]] = v

    # Nodes: the input sections the linker kept (what --gc-sections works on).
    # No map (an image built elsewhere without -Map): sizes and forbidden symbols only.
    secs = sorted(parse_map(map_path), key=lambda s: s[1]) if os.path.exists(map_path) else []
    starts = [s[1] for s in secs]

    def node_at(addr):
        import bisect
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and secs[i][1] <= addr < secs[i][1] + secs[i][2]:
            return i
        return None

    # A name for each node: the best symbol at its start.
    names = {}
    for s in elf.symbols:
        if s["type"] not in (0, 1, 2) or not s["name"] or s["name"].startswith("$"):
            continue
        n = node_at(s["value"] & ~1)
        if n is None:
            continue
        rank = (s["bind"] != 0, s["type"] in (1, 2), s["value"] & ~1 == secs[n][1])
        if n not in names or rank > names[n][0]:
            names[n] = (rank, s["name"])
    mangled = {n: v[1] for n, v in names.items()}
    pretty = demangle(set(mangled.values()))

    def label(n):
        if n in mangled:
            return shorten(pretty.get(mangled[n], mangled[n]))
        return secs[n][0]

    edges = collections.defaultdict(set)
    for site, target in elf.relocations():
        a, b = node_at(site), node_at(target)
        if a is None or b is None or a == b:
            continue
        if secs[a][4] == ".ARM.exidx":
            edges[b].add(a)  # an unwind entry lives as long as its function
        else:
            edges[a].add(b)
    rev = collections.defaultdict(set)
    for a, bs in edges.items():
        for b in bs:
            rev[b].add(a)

    roots = {i for i, s in enumerate(secs) if s[0] in (".isr_vector", ".init_array")}

    def reachable(cut):
        seen, stack = set(), [r for r in roots if r not in cut]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(m for m in edges[n] if m not in cut and m not in seen)
        return seen

    def cost(nodes):
        flash = sum(secs[n][2] for n in nodes if secs[n][4] != ".bss")
        ram = sum(secs[n][2] for n in nodes if secs[n][4] in (".data", ".bss"))
        return flash, ram

    # Without relocations (linked without --emit-relocs) nothing can be traced: every kept
    # section counts.
    base = reachable(set()) if edges else set(range(len(secs)))

    # Forbidden symbols: by name, in the image's symbol table.
    found = []
    for cat, pattern, fail in FORBIDDEN:
        rx = re.compile(pattern)
        syms = sorted({s["name"] for s in elf.symbols if s["name"] and rx.search(s["name"])
                       and s["shndx"] != 0})
        if not syms:
            continue
        nodes = {node_at(s["value"] & ~1) for s in elf.symbols if s["name"] in syms}
        nodes.discard(None)
        # Who in the core (or the probe) reaches them, by the shortest chain of references.
        chains = []
        for target in sorted(nodes):
            prev, queue, seen = {}, collections.deque([target]), {target}
            hits = []
            while queue:
                n = queue.popleft()
                if n != target and is_qmtkit(secs[n][3], label(n)):
                    hits.append(n)
                    continue  # the first core function on each path is enough
                for m in rev[n]:
                    if m not in seen:
                        seen.add(m)
                        prev[m] = n
                        queue.append(m)
            for h in hits:
                chain, n = [h], h
                while n != target:
                    n = prev[n]
                    chain.append(n)
                chains.append(chain)
        # Deduplicate: one chain per first core function.
        uniq = {}
        for c in chains:
            uniq.setdefault(c[0], c)
        lost = base - reachable(nodes)
        flash, ram = cost(lost)
        found.append(dict(
            category=cat, fail=fail,
            symbols=[shorten(demangle([s])[s]) for s in syms],
            pulled_in_by=[dict(function=label(c[0]), object=object_group(secs[c[0]][3]),
                               chain=[label(n) for n in c]) for c in uniq.values()],
            removable_flash=flash, removable_ram=ram))

    # What each feature costs: the flash that goes when its functions go, with everything only
    # they reach. Code inlined into other functions stays, so it is a lower bound.
    feature_cost = []
    for title, pattern in features:
        rx = re.compile(pattern)
        cut = {n for n in base if rx.search(re.sub(r"\(\)( const)?$", "", label(n)))}
        flash, _ = cost(base - reachable(cut))
        feature_cost.append(dict(feature=title, flash=flash, functions=len(cut)))

    by_object = collections.Counter()
    for n in base:
        if secs[n][4] != ".bss":
            by_object[object_group(secs[n][3])] += secs[n][2]
    own = by_object.get("probe", 0) + by_object.get("startup", 0)
    return dict(text=text, data=data, bss=bss, flash=text + data, ram=data + bss,
                feature_cost=feature_cost,
                flash_lib=text + data - own, sizeof=sizes, forbidden=found,
                flash_by_object=dict(by_object.most_common()))


# ------------------------------------------------------------------ output


def kb(n):
    return f"{n / 1024:.1f} KB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the probes' build directory")
    ap.add_argument("--json", help="write the report here as JSON")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if malloc/free/abort/__cxa_*/__throw_* is in an image or a "
                         "target is exceeded")
    ap.add_argument("--check-symbols", action="store_true",
                    help="exit 1 if malloc/free/abort/__cxa_*/__throw_* is in an image")
    ap.add_argument("--stack", metavar="FILE",
                    help="the example firmware's stack high-water, as the QEMU test wrote it")
    ap.add_argument("--top", type=int, default=8, help="objects listed per probe")
    ap.add_argument("--image", action="append", default=[], metavar="NAME=ELF[,WHAT[,CONFIG]]",
                    help="one more image for the table (its .map beside it, if any)")
    args = ap.parse_args()

    images = [(name, what, config, os.path.join(args.build, name + ".elf"))
              for name, what, config in PROBES]
    for spec in args.image:
        # NAME=PATH.elf[,what[,config]]
        name, _, rest = spec.partition("=")
        path, what, config = (rest.split(",") + ["", ""])[:3]
        images.append((name, what or name, config or "default", path))
    results = {}
    for name, what, config, elf in images:
        if not os.path.exists(elf):
            raise SystemExit(f"{elf}: not built")
        mp = os.path.splitext(elf)[0] + ".map"
        features = FEATURES if name in FEATURE_PROBES else ()
        results[name] = dict(what=what, config=config, **analyse(elf, mp, features))

    cc = subprocess.run(["arm-none-eabi-g++", "--version"], text=True,
                        capture_output=True).stdout.split("\n")[0]
    print(f"qmtkit footprint, Cortex-M3 ({cc})")
    print("  -mcpu=cortex-m3 -mthumb -Os -ffunction-sections -fdata-sections -fno-exceptions "
          "-fno-rtti, nano.specs, --gc-sections")
    print()
    hdr = (f"{'links':<38} {'config':<8} {'text':>7} {'data':>5} {'bss':>6} {'flash':>7} "
           f"{'RAM':>6} {'lib flash':>9}  target")
    print(hdr)
    print("-" * len(hdr))
    last = None
    for name, r in results.items():
        target = ""
        if name in ("probe_aliyun", "probe_firmware"):
            t = TARGETS["client_profile_flash"]
            target = f"<= {t} ({'met' if r['flash_lib'] <= t else 'not met'})"
        what = r["what"] if r["what"] != last else ""
        last = r["what"]
        print(f"{what:<38} {r['config']:<8} {r['text']:>7} {r['data']:>5} {r['bss']:>6} "
              f"{r['flash']:>7} {r['ram']:>6} {r['flash_lib']:>9}  {target}".rstrip())
    print("(bytes; flash = text + data, RAM = data + bss, stack not included; lib flash = flash\n"
          " without the probe's own code and start-up: the core, its profile, libc and libgcc;\n"
          " config: qmt::ClientConfig (the engine alone: at::EngineConfig) or qmt::CompactConfig;\n"
          " (*) firmware: built with QMTKIT_TRACE=0, QMTKIT_NAMES=0 and QMTKIT_TENAUTH=0, see\n"
          " docs/porting.md)")
    print()
    parts = {}
    for r in results.values():
        for k, v in r["sizeof"].items():
            if k.startswith("part_"):
                parts[k[len("part_"):]] = v
    configs = [(c, title) for c, title in PART_CONFIGS if f"total_{c}" in parts]
    if configs:
        print("RAM of the client by part (sizeof on target, bytes):")
        print(f"  {'':<58}" + "".join(f"{title:>17}" for _, title in configs))
        for key, title in PARTS:
            print(f"  {title:<58}" + "".join(f"{parts.get(f'{key}_{c}', 0):>17}"
                                             for c, _ in configs))
        pad = {c: parts[f"total_{c}"] - sum(parts.get(f"{k}_{c}", 0) for k, _ in PARTS)
               for c, _ in configs}
        print(f"  {'alignment':<58}" + "".join(f"{pad[c]:>17}" for c, _ in configs))
        print(f"  {'total: sizeof(Client<Config>)':<58}" +
              "".join(f"{parts[f'total_{c}']:>17}" for c, _ in configs))
    print()
    print("sizeof on target:")
    labels = {"engine": "at::Engine<>", "engine_core": "at::EngineCore",
              "client": "qmt::Client<>", "client_core": "qmt::ClientCore",
              "client_engine": "at::Engine<ClientConfig::Engine> (inside Client<>)",
              "client_compact": "qmt::Client<CompactConfig>",
              "client_compact_engine": "at::Engine<CompactConfig::Engine> (inside it)",
              "profile_store": "cloud::ProfileStore",
              "client_fw": "qmt::Client<> (trace and names off)",
              "client_compact_fw": "qmt::Client<CompactConfig> (trace and names off)",
              "client_compact_engine_fw": "its engine (trace and names off)",
              "engine_compact": "at::Engine<CompactConfig::Engine> alone",
              "image_fault": "image::ImageFault"}
    seen = {}
    for r in results.values():
        for k, v in r["sizeof"].items():
            if not k.startswith("part_"):
                seen[k] = v
    target_keys = {TARGET_OF[t][1]: t for t in TARGETS if TARGET_OF[t][0] is None}
    for k in ("engine", "engine_core", "engine_compact", "client", "client_core",
              "client_engine", "client_compact", "client_compact_engine", "profile_store",
              "image_fault", "client_fw", "client_compact_fw", "client_compact_engine_fw"):
        if k in seen:
            extra = ""
            if k in target_keys:
                t = TARGETS[target_keys[k]]
                extra = f"   target <= {t} ({'met' if seen[k] <= t else 'not met'})"
            print(f"  {labels[k]:<52} {seen[k]:>6} B{extra}")
    print()
    for name, r in results.items():
        if not r["feature_cost"]:
            continue
        print(f"flash that goes with each feature ({name}; a lower bound: inlined code stays):")
        for f in r["feature_cost"]:
            print(f"  {f['feature']:<62} {f['flash']:>6} B")
        print()
    print(f"flash by object (top {args.top}):")
    for name, r in results.items():
        parts = ", ".join(f"{o} {n}" for o, n in list(r["flash_by_object"].items())[:args.top])
        print(f"  {name}: {parts}")
    print()
    print("forbidden symbols (heap, abort, __cxa_*, __throw_*: fail; 64-bit division: reported):")
    failing = []
    for name, r in results.items():
        if not r["forbidden"]:
            print(f"  {name}: none")
            continue
        for f in r["forbidden"]:
            mark = "FAIL" if f["fail"] else "note"
            if f["fail"]:
                failing.append((name, f["category"]))
            print(f"  {name}: [{mark}] {f['category']}: {', '.join(f['symbols'])} "
                  f"(without it: -{f['removable_flash']} B flash, -{f['removable_ram']} B RAM)")
            # One line per path below the core, then the core functions that take it.
            paths = collections.OrderedDict()
            for p in f["pulled_in_by"]:
                paths.setdefault(tuple(p["chain"][1:]), []).append(
                    f"{p['function']} [{p['object']}]")
            for path, callers in paths.items():
                print(f"      {' -> '.join(path)}")
                print(f"        from {', '.join(callers)}")
    print()

    # Stack painting needs a run: the QEMU test (FirmwareE2E.*) writes what the firmware printed.
    stack = None
    if args.stack and os.path.exists(args.stack):
        with open(args.stack) as f:
            stack = f.read().strip()
        print("Example firmware, measured on QEMU mps2-an385 (FirmwareE2E, stack painting):")
        for line in stack.splitlines():
            print(f"  {line}")
        print(f"  (from {args.stack})")
    else:
        print("Example firmware stack high-water: not measured yet "
              "(ctest --test-dir build/dev -L baremetal writes it)")
    print()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    git = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"], text=True,
                         capture_output=True).stdout.strip()
    report = dict(
        generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        commit=git or None,
        compiler=cc,
        flags="-mcpu=cortex-m3 -mthumb -Os -ffunction-sections -fdata-sections -fno-exceptions "
              "-fno-rtti --specs=nano.specs -Wl,--gc-sections",
        targets=TARGETS,
        example_firmware_stack=stack,
        probes=results)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"JSON: {args.json}")
    missed = []
    for t, limit in TARGETS.items():
        probe, key = TARGET_OF[t]
        value = results[probe][key] if probe else seen.get(key)
        if value is not None and value > limit:
            missed.append(f"{t} {value} > {limit}")
    rc = 0
    if (args.check or args.check_symbols) and failing:
        print("FAIL: a firmware image holds " +
              "; ".join(f"{c} ({p})" for p, c in failing), file=sys.stderr)
        rc = 1
    if args.check and missed:
        print("FAIL: issue 10's targets exceeded: " + "; ".join(missed), file=sys.stderr)
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
