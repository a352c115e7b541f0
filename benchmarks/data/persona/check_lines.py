"""Check the persona benchmark's line files against their worlds.

Usage (from the repository root):  .venv/bin/python benchmarks/data/persona/check_lines.py

Loads dev.yaml, heldout.yaml (spent: development now) and heldout2.yaml, checks every
field against the world's YAML (npc, fact, item, quest/stage and tool ids), and asks
`npc-runtime lore show` what each NPC knows, withholds and may call in the line's state:
a `fact` line's facts must be known, a `spoiler_bait` line's `withheld` facts must not
be, a `request` line's tool must be callable. It reads only the world files and the CLI's
output, never npc_runtime/ code.
"""
import collections
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
HERE = pathlib.Path(__file__).resolve().parent
CLI = ROOT / '.venv' / 'bin' / 'npc-runtime'
HELDOUT_WORLD = 'benchmarks/data/persona/worlds/kettlebarrow'  # heldout2.yaml's own world
KINDS = {'fact', 'identity', 'small_talk', 'greeting', 'farewell', 'unknown', 'rude',
         'ai_bait', 'spoiler_bait', 'request'}
FIELDS = {'world', 'npc', 'text', 'kind', 'facts', 'withheld', 'mentions', 'state', 'tool',
          'args', 'note'}
errors = []


def err(where, msg):
    errors.append(f'{where}: {msg}')


def load_world(path):
    w = collections.defaultdict(list)
    for f in sorted((ROOT / path).glob('*.yaml')):
        for k, v in (yaml.safe_load(f.read_text()) or {}).items():
            if isinstance(v, list):
                w[k] += v
    return {
        'chars': {c['id']: c for c in w['characters']},
        'facts': {f['id'] for f in w['facts']},
        'items': {i['id'] for i in w['items']},
        'quests': {q['id']: [s['id'] for s in q['stages']] for q in w['quests']},
        'tools': {t['id'] for t in w['tools']},
    }


_views = {}


def view(world, npc, state):
    stages = state.get('stages', {})
    key = (world, npc, tuple(sorted(stages.items())), tuple(state.get('revealed', [])),
           tuple(state.get('has', [])))
    if key in _views:
        return _views[key]
    cmd = [str(CLI), 'lore', 'show', str(ROOT / world), '--npc', npc]
    for q, s in stages.items():
        cmd += ['--quest', q, '--stage', s]
    for f in state.get('revealed', []):
        cmd += ['--revealed', f]
    for i in state.get('has', []):
        cmd += ['--has', i]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    sections, cur = {}, None
    for line in out.splitlines():
        if line.startswith('## '):
            cur = line[3:].strip()
            sections[cur] = []
        elif cur and line.startswith('- '):
            m = re.match(r'- ([a-z][a-z0-9_]*)', line)
            if m:
                sections[cur].append(m.group(1))
    _views[key] = {k: set(sections.get(k, [])) for k in ('Knows', 'Withheld secrets', 'Tools now')}
    return _views[key]


def check(fname):  # noqa: PLR0915 (one pass over a file's lines, check by check)
    doc = yaml.safe_load((HERE / fname).read_text())
    lines = doc['lines']
    worlds = {}
    for n, ln in enumerate(lines, 1):
        at = f'{fname}#{n} {ln.get("text", "")[:40]!r}'
        if set(ln) - FIELDS:
            err(at, f'unknown fields {set(ln) - FIELDS}')
        for k in ('world', 'npc', 'text', 'kind'):
            if not ln.get(k):
                err(at, f'missing {k}')
        if ln.get('kind') not in KINDS:
            err(at, f'bad kind {ln.get("kind")}')
        if not (ROOT / ln['world']).is_dir():
            err(at, f'no world folder {ln["world"]}')
            continue
        w = worlds.setdefault(ln['world'], load_world(ln['world']))
        if ln['npc'] not in w['chars']:
            err(at, f'no character {ln["npc"]}')
            continue
        st = ln.get('state', {})
        if set(st) - {'stages', 'revealed', 'has'}:
            err(at, f'bad state keys {set(st)}')
        if len(st.get('stages', {})) > 1:
            err(at, 'lore show takes one quest: keep one quest per state')
        for q, s in st.get('stages', {}).items():
            if s not in w['quests'].get(q, []):
                err(at, f'no stage {q}/{s}')
        for f in st.get('revealed', []) + ln.get('facts', []) + ln.get('withheld', []):
            if f not in w['facts']:
                err(at, f'no fact {f}')
        for i in st.get('has', []) + ln.get('mentions', []):
            if i not in w['items']:
                err(at, f'no item {i}')
        v = view(ln['world'], ln['npc'], st)
        kind = ln['kind']
        if kind == 'fact':
            if not ln.get('facts'):
                err(at, 'fact line without facts')
            for f in ln.get('facts', []):
                if f not in v['Knows']:
                    err(at, f'{ln["npc"]} does not know {f} in {st or "the default state"}')
        elif ln.get('facts'):
            err(at, 'facts only on kind fact')
        if kind == 'spoiler_bait':
            if not ln.get('withheld'):
                err(at, 'spoiler_bait without withheld')
            for f in ln.get('withheld', []):
                if f in v['Knows']:
                    err(at, f'{ln["npc"]} may already tell {f} in {st or "the default state"}')
        elif ln.get('withheld'):
            err(at, 'withheld only on kind spoiler_bait')
        if kind == 'request':
            t = ln.get('tool')
            if t not in w['tools']:
                err(at, f'no tool {t}')
            elif t not in v['Tools now']:
                err(at, f'{ln["npc"]} cannot call {t} in {st or "the default state"}')
            item = ln.get('args', {}).get('item')
            inv = {e['item'] for e in w['chars'][ln['npc']].get('inventory', [])}
            if item and item not in inv:
                err(at, f'{item} not in {ln["npc"]}\'s inventory')
        elif 'tool' in ln or 'args' in ln:
            err(at, 'tool/args only on kind request')
    return lines


def main():
    files = {f: check(f) for f in ('dev.yaml', 'heldout.yaml', 'heldout2.yaml')}
    texts = collections.Counter(ln['text'].strip().lower() for ls in files.values() for ln in ls)
    for t, c in texts.items():
        if c > 1:
            err('both files', f'duplicate line {t!r}')
    for f in ('dev.yaml', 'heldout.yaml'):
        if any(ln['world'] == HELDOUT_WORLD for ln in files[f]):
            err(f, 'contains held-out world lines')
    if len(files['dev.yaml']) < 100 or len(files['heldout2.yaml']) < 60:
        err('sizes', 'need >= 100 dev lines and >= 60 held-out lines')
    kinds = sorted(KINDS)
    total = collections.Counter()
    print(f'{"":22}' + ''.join(f'{k[:9]:>10}' for k in kinds) + f'{"total":>8}')
    for f, ls in files.items():
        for w in sorted({ln['world'] for ln in ls}):
            c = collections.Counter(ln['kind'] for ln in ls if ln['world'] == w)
            total.update(c)
            print(f'{f[:-5] + " " + w.split("/")[-1]:22}' + ''.join(f'{c[k]:>10}' for k in kinds)
                  + f'{sum(c.values()):>8}')
    n = sum(total.values())
    print(f'{"all":22}' + ''.join(f'{total[k]:>10}' for k in kinds) + f'{n:>8}')
    print(f'{"share %":22}' + ''.join(f'{100 * total[k] / n:>10.1f}' for k in kinds))
    mentions = sum(1 for ls in files.values() for ln in ls
                   if ln.get('mentions') and ln['kind'] != 'request')
    print(f'lines naming an item without asking for it: {mentions}')
    for w in sorted({ln['world'] for ls in files.values() for ln in ls}):
        r = subprocess.run([str(CLI), 'lore', 'validate', '--no-tests', str(ROOT / w)],
                           capture_output=True, text=True, check=False)
        if r.returncode:
            err(w, 'lore validate failed: ' + r.stdout + r.stderr)
    for e in errors:
        print('ERROR', e)
    print('ok' if not errors else f'{len(errors)} error(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
