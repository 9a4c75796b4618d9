"""A long metric card split across processes: each shard draws its share of the samples of one `ddpm_nb_eval` run.

Usage:
  python bench/sharded_card.py sample --shard 0 --shards 2 --sampler ancestral --steps 1000 --out ref [--spacing S] [--compile] [--threads 1]
  python bench/sharded_card.py sample --shard 1 --shards 2 ... (in parallel, e.g. one per core)
  python bench/sharded_card.py score --shards 2 --out ref              # the card, as JSON and markdown, in ref/
  python bench/sharded_card.py check                                   # shards reproduce `generate` exactly (seconds)

`score` appends the card to bench/results/sampler_study.jsonl as a record (`ddpm_nb.records`: labels kind='card', model,
sampler, steps, spacing, n, seed; FID with its interval, precision, recall, floor; the shards' seconds), with the
equivalent `ddpm_nb_eval` command; `--no-record` for trials. The sweeps chapter tabulates the cards.

The samples are those of `ddpm_nb_eval --pretrained mnist_eps --n N --batch-size B --seed S --sampler ... --steps ... --recon-n 0`:
`generate` draws batch after batch from one seeded generator, so a shard runs the same loop and lets a stand-in network
(zeros) take the other shards' batches. Ancestral and SDE steps draw the same amount of noise whatever the network says,
so the generator reaches each of this shard's batches in the state the single run would have. `check` verifies that on a
short chain. `--compile` runs the network through `torch.compile` (float32 either way, so the samples differ from eager
ones only by rounding).
"""
import argparse, json, platform, time
from pathlib import Path
import torch
from torch import nn
from ddpm_nb.checkpoints import load_pretrained, pretrained_info
from ddpm_nb.evaluation import generate, score_samples, _to_28
from ddpm_nb.samplers import SAMPLERS, SAMPLER_SPECS, SPACINGS, CallCounter
from ddpm_nb.records import make_record, write_record

class ShardNet(nn.Module):
    "Run `net` on the batches of `generate` that belong to `mine`; zeros elsewhere. Batches are told apart by counting calls."
    def __init__(self, net, calls_per_batch, mine):
        super().__init__()
        self.net, self.per_batch, self.mine, self.calls = net, calls_per_batch, set(mine), 0
    def forward(self, x, t, *args, **kwargs):
        batch, self.calls = self.calls // self.per_batch, self.calls + 1
        return self.net(x, t, *args, **kwargs) if batch in self.mine else torch.zeros_like(x)

def calls_per_batch(schedule, shape, sampler, steps, objective, **kwargs):
    "Network calls `sample` makes for one batch, counted on a stand-in network."
    counter = CallCounter(lambda x, t, *a, **k: torch.zeros_like(x))
    generate(counter, schedule, 1, shape, sampler, steps, 1, 0, objective=objective, **kwargs)
    return counter.calls

def my_batches(n, batch_size, shard, shards):
    "Contiguous blocks of batch indices: shard `i` of `shards`."
    nb = -(-n // batch_size)
    per = -(-nb // shards)
    return list(range(shard * per, min(nb, (shard + 1) * per)))

def draw_shard(net, schedule, shape, n, batch_size, seed, sampler, steps, objective, shard, shards, **kwargs):
    "This shard's samples `(k, C, H, W)`, equal to its rows of `generate(net, ...)` over all `n`."
    mine = my_batches(n, batch_size, shard, shards)
    per = calls_per_batch(schedule, shape, sampler, steps, objective, **kwargs)
    x = generate(ShardNet(net, per, mine), schedule, n, shape, sampler, steps, batch_size, seed, objective=objective, **kwargs)
    rows = torch.cat([torch.arange(b * batch_size, min(n, (b + 1) * batch_size)) for b in mine]) if mine else torch.zeros(0, dtype=torch.long)
    return x[rows]

def check():
    "Two and three shards of a short chain equal one `generate` run, for two stochastic samplers and a deterministic one."
    torch.set_num_threads(1)
    model, schedule, cfg = load_pretrained('mnist_eps')
    shape, obj = (model.in_channels, model.img_size, model.img_size), cfg.get('objective', 'eps')
    for sampler, steps in (('ancestral', 6), ('dpm++2m-sde', 4), ('ddim', 4)):
        whole = generate(model, schedule, 10, shape, sampler, steps, 3, 7, objective=obj)
        for shards in (2, 3):
            parts = torch.cat([draw_shard(model, schedule, shape, 10, 3, 7, sampler, steps, obj, i, shards) for i in range(shards)])
            assert torch.equal(parts, whole), (sampler, shards, (parts - whole).abs().max())
        print(f"{sampler}, {steps} steps: 2 and 3 shards equal one run (10 samples, batches of 3)")

def card_record(card, a, parts) -> dict:
    "The record of a sharded card, as the sweeps chapter reads it: the card's scores, labelled by what was drawn."
    sc = card.scores
    labels = dict(kind='card', model=a.pretrained, sampler=a.sampler, steps=a.steps, spacing=a.spacing or SAMPLER_SPECS[a.sampler].spacing,
                  n=a.n, seed=a.seed)
    values = dict(fid=dict(value=sc['fid']['value'], interval=list(sc['fid']['ci'])), precision=sc['precision']['value'],
                  recall=sc['recall']['value'], floor=sc['fid']['floor'])
    values.update({f"seconds_shard{p['info']['shard']}": p['info']['seconds'] for p in parts})
    return make_record('sampler_study', labels, values, command=card.info['command'], feature_net=card.feature_net,
                       shard_threads=[p['info']['threads'] for p in parts], compiled=bool(parts[0]['info']['compile']))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('what', choices=('sample', 'score', 'check'))
    ap.add_argument('--pretrained', default='mnist_eps')
    ap.add_argument('--sampler', default='ancestral', choices=SAMPLERS)
    ap.add_argument('--steps', type=int, default=1000)
    ap.add_argument('--spacing', default=None, choices=SPACINGS, help="timestep spacing (default: the sampler's)")
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--batch-size', type=int, default=125)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--shard', type=int, default=0)
    ap.add_argument('--shards', type=int, default=2)
    ap.add_argument('--compile', action='store_true', help='torch.compile the network (float32)')
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--out', default='sharded_card', help='folder for the shards and the card')
    ap.add_argument('--no-record', dest='record', action='store_false', help='score without appending a record to bench/results')
    a = ap.parse_args()
    if a.what == 'check': return check()
    if a.threads: torch.set_num_threads(a.threads)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    model, schedule, cfg = load_pretrained(a.pretrained)
    obj, kw = cfg.get('objective', 'eps'), ({'spacing': a.spacing} if a.spacing else {})
    if a.what == 'sample':
        if not 0 <= a.shard < a.shards: ap.error(f"--shard must be in [0, {a.shards}), got {a.shard}")
        net = torch.compile(model, dynamic=False) if a.compile else model
        t0 = time.perf_counter()
        x = draw_shard(net, schedule, (model.in_channels, model.img_size, model.img_size), a.n, a.batch_size, a.seed,
                       a.sampler, a.steps, obj, a.shard, a.shards, **kw)
        info = dict(vars(a), seconds=time.perf_counter() - t0, samples=len(x), torch=str(torch.__version__),
                    threads=torch.get_num_threads(), machine=platform.processor() or platform.machine())
        tmp = out / f'shard{a.shard}.pt.tmp'
        torch.save(dict(x=x, info=info), tmp); tmp.replace(out / f'shard{a.shard}.pt')   # never a half-written shard
        print(json.dumps(info))
        return
    parts = [torch.load(out / f'shard{i}.pt', weights_only=False) for i in range(a.shards)]   # our own files
    for p in parts:
        for k in ('pretrained', 'sampler', 'spacing', 'steps', 'n', 'batch_size', 'seed', 'shards'):
            if p['info'].get(k) != getattr(a, k): raise SystemExit(f"shard {p['info']['shard']} was drawn with {k}={p['info'].get(k)!r}, not {getattr(a, k)!r}")
    x = torch.cat([p['x'] for p in parts])
    if len(x) != a.n: raise SystemExit(f"the shards hold {len(x)} samples, not {a.n}")
    ema = pretrained_info(a.pretrained)['weights'] == 'ema'
    card = score_samples(_to_28(x), cfg['dataset'], a.sampler, a.steps, ema, n_boot=50, seed=a.seed)
    card.info.update(sampling_seconds=sum(p['info']['seconds'] for p in parts), objective=obj, model=f"pretrained:{a.pretrained}",
                     shards=[p['info'] for p in parts],
                     command=f"ddpm_nb_eval --pretrained {a.pretrained} --n {a.n} --batch-size {a.batch_size} --seed {a.seed} "
                             f"--sampler {a.sampler} --steps {a.steps}{f' --spacing {a.spacing}' if a.spacing else ''} --recon-n 0 (drawn in {a.shards} shard{'s' * (a.shards > 1)} by bench/sharded_card.py"
                             f"{', compiled' if parts[0]['info']['compile'] else ''})")
    card.save(out / 'card.json')
    (out / 'card.md').write_text(card._repr_markdown_())
    print(card._repr_markdown_())
    if a.record: print(f"record appended to {write_record(card_record(card, a, parts))}")

if __name__ == '__main__': main()
