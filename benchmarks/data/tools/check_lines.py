"""Check the tool-choice benchmark's line files against their worlds.

Reads dev.yaml, heldout.yaml and heldout2.yaml next to this file and checks every line against
the YAML of its world (read directly, never through npc_runtime/ code): the world folder exists
and passes `npc-runtime lore validate`; the npc exists and speaks (has a persona); the kind is
one of the fixed list and agrees with the expectation (none, or a tool); an expected tool
exists, belongs to that NPC and is in the NPC's "Tools now" of `npc-runtime lore show` at the
line's state; argument names exist and their values are ones the world allows (inventory items
the NPC holds, enum values, integer bounds, ids from the lore); a history is well formed
(entries with `npc`, optional `player`, `called` and `proposed` tool calls of that NPC; a
proposal only in the last entry; a `follows` proposal after a call of the tool it follows; a
`confirm_with` proposal right after the confirming call); a yes to an offer expects the
proposed call; a direct request for a tool with `confirm_with` expects the confirming tool.
Prints counts per split, world, expectation and kind. Exits 1, with file#line messages, on any
problem.

Python 3.11, PyYAML and the standard library only.
"""
import argparse
import collections
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
HERE = pathlib.Path(__file__).resolve().parent
CLI = ROOT / '.venv' / 'bin' / 'npc-runtime'
HELDOUT_WORLDS = ('benchmarks/data/tools/worlds/hollowpeak',
                  'benchmarks/data/tools/worlds/ninewell',
                  'benchmarks/data/tools/worlds/wickerlow',
                  'benchmarks/data/tools/worlds/briarford',
                  'benchmarks/data/tools/worlds/rimefast')
FILES = ('dev.yaml', 'heldout.yaml', 'heldout2.yaml', 'heldout3.yaml', 'heldout4.yaml',
         'heldout5.yaml')

# kind -> what the line expects: 'none' (no tool may be called) or 'tool'.
KINDS = {
    'greeting': 'none', 'farewell': 'none', 'thanks': 'none', 'small_talk': 'none',
    'lore_question': 'none', 'price_question': 'none', 'item_question': 'none',
    'cheaper_question': 'none', 'mention': 'none', 'remark_with_number': 'none',
    'hypothetical': 'none', 'refusal': 'none', 'hesitation': 'none',
    'question_during_offer': 'none', 'not_allowed': 'none', 'wrong_npc': 'none',
    'request': 'tool', 'request_indirect': 'tool', 'yes_to_offer': 'tool',
}
NEEDS_OFFER = {'yes_to_offer', 'question_during_offer'}
FIELDS = {'world', 'npc', 'text', 'kind', 'state', 'history', 'expect', 'note'}
ENTRY_FIELDS = {'player', 'npc', 'called', 'proposed'}
FROM_KEYS = {'characters': 'chars', 'factions': 'factions', 'locations': 'locations',
             'items': 'items', 'creatures': 'creatures', 'things': 'things',
             'quests': 'quests', 'facts': 'facts'}
MIN = {('all', 'none'): 110, ('all', 'tool'): 60,
       ('heldout.yaml', 'none'): 80, ('heldout.yaml', 'tool'): 40,
       ('heldout2.yaml', 'none'): 85, ('heldout2.yaml', 'tool'): 40,
       ('heldout3.yaml', 'none'): 140, ('heldout3.yaml', 'tool'): 55,
       ('heldout4.yaml', 'none'): 140, ('heldout4.yaml', 'tool'): 55,
       ('heldout5.yaml', 'none'): 140, ('heldout5.yaml', 'tool'): 55}

errors = []


def err(where, msg):
    errors.append(f'{where}: {msg}')


def yaml_line_numbers(path):
    """1-based file line of each `  - world:` entry, in order (for file:line messages)."""
    return [i for i, t in enumerate(path.read_text().splitlines(), 1)
            if re.match(r'\s*- world:', t)]


def load_world(path):
    w = collections.defaultdict(list)
    for f in sorted((ROOT / path).glob('*.yaml')):
        for k, v in (yaml.safe_load(f.read_text()) or {}).items():
            if isinstance(v, list):
                w[k] += v
    ids = {k: {e['id'] for e in w[k]} for k in FROM_KEYS}
    return {
        'chars': {c['id']: c for c in w['characters']},
        'tools': {t['id']: t for t in w['tools']},
        'quests': {q['id']: [s['id'] for s in q['stages']] for q in w['quests']},
        'ids': ids,
        'facts': ids['facts'],
        'items': ids['items'],
    }


_views = {}


def tools_now(world, npc, state):
    """The tool ids `npc-runtime lore show` lists under 'Tools now' for this NPC and state."""
    stages = state.get('stages', {})
    key = (world, npc, tuple(sorted(stages.items())), tuple(state.get('revealed', [])),
           tuple(state.get('has', [])))
    if key not in _views:
        cmd = [str(CLI), 'lore', 'show', str(ROOT / world), '--npc', npc]
        for q, s in stages.items():
            cmd += ['--quest', q, '--stage', s]
        for f in state.get('revealed', []):
            cmd += ['--revealed', f]
        for i in state.get('has', []):
            cmd += ['--has', i]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        tools, cur = set(), None
        for line in out.splitlines():
            if line.startswith('## '):
                cur = line[3:].strip()
            elif cur == 'Tools now':
                m = re.match(r'- ([a-z][a-z0-9_]*)', line)
                if m:
                    tools.add(m.group(1))
        _views[key] = tools
    return _views[key]


def check_call(at, w, npc, call, what):
    """A {tool, args} mapping: the tool is the NPC's, args are allowed. Returns the tool or None."""
    if not isinstance(call, dict) or set(call) - {'tool', 'args'} or 'tool' not in call:
        err(at, f'{what} must be {{tool: ID, args: {{...}}}}, got {call!r}')
        return None
    tid, args = call['tool'], call.get('args') or {}
    tool = w['tools'].get(tid)
    if tool is None:
        err(at, f'{what}: no tool {tid!r} in the world')
        return None
    if tid not in w['chars'][npc].get('tools', []):
        err(at, f'{what}: tool {tid} does not belong to {npc}')
    if not isinstance(args, dict):
        err(at, f'{what}: args must be a mapping')
        return tool
    params = tool.get('params') or {}
    inv = {e['item']: e.get('count', 1) for e in w['chars'][npc].get('inventory', [])}
    for name, val in args.items():
        p = params.get(name)
        if p is None:
            err(at, f'{what}: {tid} has no parameter {name!r} (has {sorted(params) or "none"})')
            continue
        typ = p.get('type')
        if typ == 'integer' and (not isinstance(val, int) or isinstance(val, bool)):
            err(at, f'{what}: {name}={val!r} is not an integer')
            continue
        if typ == 'string' and not isinstance(val, str):
            err(at, f'{what}: {name}={val!r} is not a string')
            continue
        if typ == 'integer':
            if 'minimum' in p and val < p['minimum']:
                err(at, f'{what}: {name}={val} below minimum {p["minimum"]}')
            if 'maximum' in p and val > p['maximum']:
                err(at, f'{what}: {name}={val} above maximum {p["maximum"]}')
        if 'enum' in p and val not in p['enum']:
            err(at, f'{what}: {name}={val!r} not in enum {p["enum"]}')
        src = p.get('from')
        if src == 'npc.inventory' and val not in inv:
            err(at, f'{what}: {name}={val!r} is not in {npc}\'s inventory {sorted(inv)}')
        elif src == 'npc.knows' and val not in w['chars'][npc].get('knows', []):
            err(at, f'{what}: {name}={val!r} is not in {npc}\'s knows')
        elif src in FROM_KEYS and val not in w['ids'][src]:
            err(at, f'{what}: {name}={val!r} is not a {src[:-1]} id')
    req = tool.get('requires') or {}
    hp = req.get('has_item')
    if hp and hp in args and args[hp] not in inv:
        err(at, f'{what}: requires {npc} to hold {args[hp]!r}')
    item = next((v for k, v in args.items()
                 if params.get(k, {}).get('from') == 'npc.inventory'), None)
    count = args.get('count')
    if item in inv and isinstance(count, int) and count > inv[item]:
        err(at, f'{what}: count {args["count"]} but {npc} holds {inv[item]} {item}')
    return tool


def check_history(at, w, npc, hist):
    """Returns the pending proposal (the last entry's `proposed`) or None."""
    if not isinstance(hist, list) or not hist:
        err(at, 'history must be a non-empty list')
        return None
    called_before = []
    pending = None
    for i, h in enumerate(hist):
        hat = f'{at} history[{i}]'
        if not isinstance(h, dict) or set(h) - ENTRY_FIELDS:
            err(hat, f'entry keys must be among {sorted(ENTRY_FIELDS)}')
            continue
        if not isinstance(h.get('npc'), str) or not h['npc'].strip():
            err(hat, 'entry needs the NPC\'s words in `npc`')
        if 'player' in h and (not isinstance(h['player'], str) or not h['player'].strip()):
            err(hat, '`player` must be a non-empty string')
        if 'called' in h and check_call(hat, w, npc, h['called'], 'called'):
            called_before.append(h['called']['tool'])
        if 'proposed' in h:
            if i != len(hist) - 1:
                err(hat, 'a proposal is pending only until the next player turn: only the '
                         'last entry may have `proposed`')
            tool = check_call(hat, w, npc, h['proposed'], 'proposed')
            if tool:
                fol, conf = tool.get('follows'), tool.get('confirm_with')
                if fol and fol not in called_before:
                    err(hat, f'{tool["id"]} follows {fol}, which the history never called')
                if conf and (h.get('called') or {}).get('tool') != conf:
                    err(hat, f'{tool["id"]} is confirmed with {conf}: the entry that proposes '
                             f'it must have called {conf}')
                if i == len(hist) - 1:
                    pending = h['proposed']
    return pending


def check_state(at, w, st):
    if not isinstance(st, dict) or set(st) - {'stages', 'revealed', 'has'}:
        err(at, f'state keys must be among stages, revealed, has: {st!r}')
        return {}
    if len(st.get('stages', {})) > 1:
        err(at, 'lore show takes one quest: keep one quest per state')
    for q, s in st.get('stages', {}).items():
        if s not in w['quests'].get(q, []):
            err(at, f'no stage {q}/{s}')
    for f in st.get('revealed', []):
        if f not in w['facts']:
            err(at, f'no fact {f}')
    for i in st.get('has', []):
        if i not in w['items']:
            err(at, f'no item {i}')
    return st


def check(fname, use_cli, worlds):
    path = HERE / fname
    doc = yaml.safe_load(path.read_text())
    lines = doc.get('lines') if isinstance(doc, dict) else None
    if not isinstance(lines, list):
        err(fname, 'top level must be {lines: [...]}')
        return []
    nums = yaml_line_numbers(path)
    for n, ln in enumerate(lines):
        at = f'{fname}:{nums[n] if n < len(nums) else "?"} {str(ln.get("text", ""))[:40]!r}'
        if set(ln) - FIELDS:
            err(at, f'unknown fields {set(ln) - FIELDS}')
        for k in ('world', 'npc', 'text', 'kind', 'expect'):
            if k not in ln or ln[k] in (None, ''):
                err(at, f'missing {k}')
        kind = ln.get('kind')
        if kind not in KINDS:
            err(at, f'bad kind {kind!r} (kinds: {", ".join(KINDS)})')
        exp = ln.get('expect')
        polarity = 'none' if exp == 'none' else 'tool'
        ln['_polarity'] = polarity
        if kind in KINDS and KINDS[kind] != polarity:
            err(at, f'kind {kind} expects {KINDS[kind]}, line expects {exp!r}')
        if not ln.get('world') or not (ROOT / ln['world']).is_dir():
            err(at, f'no world folder {ln.get("world")!r}')
            continue
        w = worlds.setdefault(ln['world'], load_world(ln['world']))
        npc = ln.get('npc')
        if npc not in w['chars']:
            err(at, f'no character {npc!r}')
            continue
        if not w['chars'][npc].get('persona'):
            err(at, f'{npc} does not speak (no persona)')
        st = check_state(at, w, ln.get('state') or {})
        pending = check_history(at, w, npc, ln['history']) if 'history' in ln else None
        if kind in NEEDS_OFFER and not pending:
            err(at, f'kind {kind} needs a pending proposal (`proposed` in the last history entry)')
        if exp == 'none':
            continue
        tool = check_call(at, w, npc, exp, 'expect')
        if not tool:
            continue
        if use_cli and tool['id'] not in tools_now(ln['world'], npc, st):
            err(at, f'{npc} cannot call {tool["id"]} in {st or "the default state"} (lore show)')
        if kind == 'yes_to_offer' and pending:
            if exp['tool'] != pending['tool']:
                err(at, f'a yes to an offer of {pending["tool"]} must expect {pending["tool"]}')
            for k, v in (exp.get('args') or {}).items():
                if k in (pending.get('args') or {}) and pending['args'][k] != v:
                    err(at, f'expected {k}={v!r} but the offer had {pending["args"][k]!r}')
        elif tool.get('confirm_with') and not (pending and pending['tool'] == tool['id']):
            err(at, f'{tool["id"]} is confirmed with {tool["confirm_with"]}: a request without its '
                    f'proposal pending expects {tool["confirm_with"]}')
    return lines


def table(files):
    kinds = list(KINDS)
    rows = []
    for f, ls in files.items():
        for wname in sorted({ln['world'] for ln in ls}):
            rows.append((f'{f[:-5]} {wname.split("/")[-1]}',
                         collections.Counter(ln['kind'] for ln in ls if ln['world'] == wname)))
    total = collections.Counter()
    for _, c in rows:
        total.update(c)
    rows.append(('all', total))
    width = max(len(k) for k in kinds) + 2
    print('per kind:')
    print(f'{"":{width}}' + ''.join(f'{r[0]:>20}' for r in rows))
    for k in kinds:
        print(f'{k:{width}}' + ''.join(f'{c[k]:>20}' for _, c in rows))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description='Check benchmarks/data/tools/{dev,heldout,heldout2}.yaml against their '
                    'worlds and print counts per split, world, expectation and kind. '
                    'Exit 1 on any problem.')
    ap.add_argument('--no-cli', action='store_true',
                    help='skip `npc-runtime lore validate` / `lore show` (YAML checks only)')
    args = ap.parse_args(argv)
    worlds = {}
    files = {f: check(f, not args.no_cli, worlds) for f in FILES}
    # Within a file only: sets written apart may meet on a short line ("evening, maren").
    texts = collections.Counter((f, ln.get('npc'), str(ln.get('text', '')).strip().lower())
                                for f, ls in files.items() for ln in ls)
    for (f, npc, t), c in texts.items():
        if c > 1:
            err(f, f'line repeated {c} times for {npc}: {t!r}')
    if any(ln.get('world') in HELDOUT_WORLDS for ln in files['dev.yaml']):
        err('dev.yaml', 'contains lines of the held-out world')
    counts = collections.Counter()
    print(f'{"split / world":26}{"expect none":>12}{"expect tool":>12}{"total":>8}')
    for f, ls in files.items():
        for wname in sorted({ln.get('world') for ln in ls}):
            c = collections.Counter(ln.get('_polarity') for ln in ls if ln.get('world') == wname)
            print(f'{f[:-5] + " " + str(wname).split("/")[-1]:26}{c["none"]:>12}{c["tool"]:>12}'
                  f'{c["none"] + c["tool"]:>8}')
        c = collections.Counter(ln.get('_polarity') for ln in ls)
        print(f'{f[:-5] + " (all)":26}{c["none"]:>12}{c["tool"]:>12}{c["none"] + c["tool"]:>8}')
        for p, k in c.items():
            counts[(f, p)] += k
            counts[('all', p)] += k
    print(f'{"all":26}{counts[("all", "none")]:>12}{counts[("all", "tool")]:>12}'
          f'{counts[("all", "none")] + counts[("all", "tool")]:>8}')
    for key, lo in MIN.items():
        if counts[key] < lo:
            err('sizes', f'{key[0]}: {counts[key]} lines expecting {key[1]}, need >= {lo}')
    table(files)
    tools = collections.Counter(ln['expect']['tool'] for ls in files.values() for ln in ls
                                if isinstance(ln.get('expect'), dict) and 'tool' in ln['expect'])
    print('expected tools: ' + ', '.join(f'{t} {c}' for t, c in sorted(tools.items())))
    if not args.no_cli:
        for wname in sorted(worlds):
            r = subprocess.run([str(CLI), 'lore', 'validate', '--no-tests', str(ROOT / wname)],
                               capture_output=True, text=True, check=False)
            if r.returncode:
                err(wname, 'lore validate failed: ' + r.stdout + r.stderr)
    for e in errors:
        print('ERROR', e)
    print('ok' if not errors else f'{len(errors)} error(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
