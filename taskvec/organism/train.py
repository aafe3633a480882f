"""Train the model organism: ``python -m taskvec.organism.train [--out DIR] [--steps N] [--seed S]``.

Data is generated on the fly (seeded) from the world (``world.py``). Losses (see README):
the LM loss on every answer, the TVP-loss (same-modality task-vector patching at one
block), the entity-lens loss (an image's ``</img>`` residual decodes its name) and the
task-lens loss (the last ':' of text examples decodes the task word at the TVP block).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from taskvec.core.hooks import Capture, Patch, intervene
from taskvec.organism.modeling import OrganismConfig, OrganismForCausalLM, _attention_mask
from taskvec.organism.processing import OrganismProcessor
from taskvec.organism.tokenization import IMG_END, IMG_START, PATCH, build_tokenizer, split_words
from taskvec.organism.world import FACT_TEMPLATES, TASK_QUERY, World, load_world
from taskvec.data.resources import organism_dir

DEFAULT_OUT = organism_dir()


@dataclass
class TrainArgs:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 150
    seed: int = 1
    max_shots: int = 6  # 1..max_shots Q/A blocks per ICL sequence
    tvp_block: int = 2  # TVP-loss patches the output of this block (residual layer tvp_block + 1)
    tvp_weight: float = 1.0
    lens_block: int = 2  # entity-lens on </img> after this block (-1: on the patch embeddings; -2: off)
    lens_weight: float = 0.3
    task_lens_block: int = 2  # task-lens: the last ':' of text ICL (k >= 2) after this block decodes the task word
    task_lens_weight: float = 0.3  # 0: off
    # sequences per batch, by kind (scaled to batch_size)
    mix_text: int = 20
    mix_image: int = 16
    mix_name: int = 12
    mix_instr: int = 8
    mix_fact: int = 8
    mix_task: int = 8  # task naming: k text examples, then Q:task\nA:{task word}
    hidden_size: int = 128
    layers: int = 6
    heads: int = 4
    image_size: int = 32
    patch_size: int = 8
    vision_layers: int = 2
    image_seq_len: int = 4
    threads: int = 1
    log_every: int = 50
    selfcheck: int = 1  # 1: run the self-check after training and write selfcheck.json


class Sampler:
    """Seeded generator of training batches (token ids, loss masks, images, TVP pairs)."""

    def __init__(self, world: World, tokenizer, processor: OrganismProcessor, args: TrainArgs):
        self.w, self.a = world, args
        self.rng = random.Random(args.seed)
        self.vocab = tokenizer.get_vocab()
        self.tid = {name: self.vocab[name] for name in (IMG_START, IMG_END, PATCH, ":", "\n", "Q", "A")}
        self.pad = tokenizer.pad_token_id
        self.images = {}  # (domain, name) -> (3, S, S) in [0, 1]
        for d in world.domains:
            for e in world.entities[d]:
                img = world.image_fn(d, e, 224)
                self.images[(d, e)] = torch.from_numpy(processor.image_to_array(img))
        self.name_ids = {k: self.ids(k[1]) for k in self.images}

    def ids(self, text: str) -> list:
        return [self.vocab[w] for w in split_words(text)]

    # ---- pieces ---------------------------------------------------------------------------
    def query(self, x, image: bool) -> list:
        t = self.tid
        body = [t[IMG_START]] + [t[PATCH]] * self.a.image_seq_len + [t[IMG_END]] if image else self.ids(x)
        return [t["Q"], t[":"]] + body + [t["\n"], t["A"], t[":"]]

    def icl(self, task, domain: str, k: int, image: bool, name_task: bool = False, prefix=None):
        """k Q/A blocks of one task. Returns ids, loss mask, image keys, index of the last ':'."""
        t = self.tid
        pool = self.w.entities[domain] if (name_task or not image) else self.w.image_entities(domain)
        ents = self.rng.sample(pool, k)
        ids, mask, imgs = list(prefix or []), [0] * len(prefix or []), []
        last = -1
        for e in ents:
            q = self.query(e, image)
            ids += q
            mask += [0] * len(q)
            last = len(ids) - 1
            if image:
                imgs.append((domain, e))
            y = self.ids(e if name_task else task.answers[e]) + [t["\n"]]
            ids += y + [t["\n"]]
            mask += [1] * len(y) + [0]
        return ids, mask, imgs, last

    def facts(self):
        ids, mask = [], []
        for _ in range(self.rng.randint(2, 5)):
            task = self.rng.choice(self.w.tasks)
            x = self.rng.choice(self.w.entities[task.domain])
            line = self.rng.choice(FACT_TEMPLATES).format(t=task.task_token, x=x, y=task.answers[x])
            li = self.ids(line) + [self.tid["\n"]]
            ids += li
            mask += [1] * len(li)
        return ids, mask

    def task_naming(self):
        """k >= 1 text examples of one task, then a text query that asks for the task's own
        word: ``Q:task\\nA:capital``. Gives task words an output role. Text only: image
        examples next to a text query would put cross-modal sequences into training."""
        task = self.rng.choice(self.w.tasks)
        ids, m, im, _ = self.icl(task, task.domain, self.rng.randint(1, self.a.max_shots), image=False)
        q = self.query(TASK_QUERY, False)
        y = self.ids(task.task_token) + [self.tid["\n"]]
        return ids + q + y, m + [0] * len(q) + [1] * len(y), im, None

    # ---- batch ----------------------------------------------------------------------------
    def batch(self):
        a, rng, w = self.a, self.rng, self.w
        seqs = []  # (ids, mask, imgs, tvp); tvp = (read_pos, task, image: bool, name_task, task_lens: bool) or None
        for _ in range(a.mix_text):
            task, k = rng.choice(w.tasks), rng.randint(1, a.max_shots)
            ids, m, im, last = self.icl(task, task.domain, k, image=False)
            seqs.append((ids, m, im, (last, task, False, False, True) if k >= 2 else None))
        for _ in range(a.mix_image):
            task, k = rng.choice(w.tasks), rng.randint(1, a.max_shots)
            ids, m, im, last = self.icl(task, task.domain, k, image=True)
            seqs.append((ids, m, im, (last, task, True, False, False) if k >= 2 else None))
        for _ in range(a.mix_name):
            d, k = rng.choice(w.domains), rng.randint(1, a.max_shots)
            ids, m, im, last = self.icl(None, d, k, image=True, name_task=True)
            seqs.append((ids, m, im, (last, d, True, True, False) if k >= 2 else None))
        for _ in range(a.mix_instr):
            task = rng.choice(w.tasks)
            pre = self.ids(task.instruction) + [self.tid["\n"]]
            ids, m, im, _ = self.icl(task, task.domain, rng.randint(1, 3), image=False, prefix=pre)
            seqs.append((ids, m, im, (len(pre) - 2, task, False, False, False)))
        for _ in range(a.mix_fact):
            ids, m = self.facts()
            seqs.append((ids, m, [], None))
        for _ in range(a.mix_task):
            seqs.append(self.task_naming())
        return self.collate(seqs)

    def collate(self, seqs):
        """Pack sequences into rows (first-fit decreasing); attention stays inside a sequence."""
        T = max(len(s[0]) for s in seqs)
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))
        rows, fill, place = [], [], {}
        for i in order:
            n = len(seqs[i][0])
            r = next((r for r, f in enumerate(fill) if f + n <= T), None)
            if r is None:
                rows.append([])
                fill.append(0)
                r = len(rows) - 1
            place[i] = (r, fill[r])
            rows[r].append(i)
            fill[r] += n
        B = len(rows)
        ids = torch.full((B, T), self.pad, dtype=torch.long)
        labels = torch.full((B, T), -100, dtype=torch.long)
        seg = torch.full((B, T), -1, dtype=torch.long)
        pos = torch.zeros((B, T), dtype=torch.long)
        imgs, img_rows, img_end_pos, tvp_src, tvp_q, task_src, task_ids = [], [], [], [], [], [], []
        for r, members in enumerate(rows):
            for i in members:  # in offset order
                s, m, im, tvp = seqs[i]
                _, o = place[i]
                n = len(s)
                st = torch.tensor(s)
                ids[r, o : o + n] = st
                seg[r, o : o + n] = i
                pos[r, o : o + n] = torch.arange(n)
                lab = torch.where(torch.tensor(m, dtype=torch.bool), st, torch.full_like(st, -100))
                labels[r, o : o + n - 1] = lab[1:]  # label at t = token t+1
                ends = (st == self.tid[IMG_END]).nonzero().flatten().tolist()
                for key, e in zip(im, ends):
                    imgs.append(key)
                    img_rows.append(r)
                    img_end_pos.append(o + e)
                if tvp is not None:
                    tvp_src.append((r, o + tvp[0]))
                    if tvp[4]:  # text ICL (k >= 2): its ':' also gets the task-lens loss
                        task_src.append((r, o + tvp[0]))
                        task_ids.append(self.vocab[tvp[1].task_token])
                    tvp_q.append(self.tvp_query(*tvp[1:4]))
        q_pos = torch.arange(T)
        mask = (seg[:, :, None] == seg[:, None, :]) & (q_pos[None, None, :] <= q_pos[None, :, None])
        mask = mask | torch.eye(T, dtype=torch.bool)[None]  # padding rows see themselves (no NaN)
        return {
            "input_ids": ids,
            "mask": mask[:, None],  # (B, 1, T, T)
            "position_ids": pos,
            "n_tokens": int((seg >= 0).sum()),
            "labels": labels,
            "images": imgs,
            "lens": (img_rows, img_end_pos, [self.name_ids[k] for k in imgs]),
            "tvp_src": tvp_src,
            "task_lens": (task_src, task_ids),
            "tvp_queries": self.collate_queries(tvp_q),
        }

    def tvp_query(self, task, image: bool, name_task: bool):
        """A fresh zero-shot query of the same task and modality: (ids, image key, first answer id)."""
        if name_task:
            d = task
            e = self.rng.choice(self.w.entities[d])
            return self.query(e, True), (d, e), self.name_ids[(d, e)][0]
        pool = self.w.image_entities(task.domain) if image else self.w.entities[task.domain]
        e = self.rng.choice(pool)
        key = (task.domain, e) if image else None
        return self.query(e, image), key, self.ids(task.answers[e])[0]

    def collate_queries(self, qs):
        if not qs:
            return None
        T = max(len(q[0]) for q in qs)
        ids = torch.full((len(qs), T), self.pad, dtype=torch.long)
        attn = torch.zeros(len(qs), T, dtype=torch.long)
        for i, (q, _, _) in enumerate(qs):
            ids[i, : len(q)] = torch.tensor(q)
            attn[i, : len(q)] = 1
        return {
            "input_ids": ids,
            "attention_mask": attn,
            "pos": torch.tensor([len(q[0]) - 1 for q in qs]),
            "images": [q[1] for q in qs if q[1] is not None],
            "target": torch.tensor([q[2] for q in qs]),
        }

    def pixels(self, keys) -> torch.Tensor | None:
        """Augmented pixel values: brightness jitter, Gaussian noise, 1-pixel shifts."""
        if not keys:
            return None
        x = torch.stack([self.images[k] for k in keys])  # (N, 3, S, S) in [0, 1]
        g = torch.Generator().manual_seed(self.rng.getrandbits(31))
        N = x.shape[0]
        x = x * (1 + (torch.rand(N, 1, 1, 1, generator=g) - 0.5) * 0.3)
        x = x + torch.randn(x.shape, generator=g) * 0.03
        shifts = torch.randint(-1, 2, (N, 2), generator=g).tolist()
        x = torch.stack([torch.roll(xi, shifts=(dy, dx), dims=(1, 2)) for xi, (dy, dx) in zip(x, shifts)])
        return (x.clamp(0, 1) - 0.5) / 0.5


def run_layers(model, input_ids, attention_mask, pixel_values, captures=(), patches=(), mask=None, position_ids=None):
    """Manual forward through the blocks (to pass a packed 4-D ``mask``): the final hidden (B, T, D).

    ``patches`` and ``captures`` act through ``taskvec.core.hooks`` on ``model.model.layers``:
    residual layer l is the output of block l - 1 (0 = the embeddings).
    """
    m = model.model
    h = m.embed(input_ids, pixel_values, position_ids)  # (B, T, D)
    if mask is None:
        mask = _attention_mask(attention_mask, h.shape[0], h.shape[1], 0, h.device)
    with intervene(m.layers, patches, captures):
        for layer in m.layers:
            h = layer(h, mask)  # (B, T, D)
    return m.norm(h)


def _record(block: int, rows, pos) -> Capture:
    """Keep the graph: residual after ``block`` (-1: the embeddings) at ``(rows, pos)``."""
    return Capture([block + 1], torch.as_tensor(pos), rows=torch.as_tensor(rows), detach=False)


def train_step(model, sampler: Sampler, args: TrainArgs):
    b = sampler.batch()
    pv = sampler.pixels(b["images"])
    rows, pos, name_ids = b["lens"]
    record = {}  # name -> Capture
    if b["tvp_src"]:
        r, p = zip(*b["tvp_src"])
        record["tvp"] = _record(args.tvp_block, r, p)  # (n, D)
    task_src, task_ids = b["task_lens"]
    if args.task_lens_weight > 0 and task_src:
        r, p = zip(*task_src)
        record["task_lens"] = _record(args.task_lens_block, r, p)  # (n, D)
    if args.lens_block >= 0 and rows:
        record["lens"] = _record(args.lens_block, rows, pos)  # (n, D)
    elif args.lens_block == -1 and rows:  # on the image's patch embeddings (projector output)
        k = args.image_seq_len
        pp = torch.tensor(pos)[:, None] - k + torch.arange(k)[None]  # (n, k)
        record["lens"] = _record(-1, rows, pp)  # (n, k, D), averaged below
    h = run_layers(model, b["input_ids"], None, pv, captures=list(record.values()), mask=b["mask"],
                   position_ids=b["position_ids"])
    rec = {name: c.store[c.layers[0]] for name, c in record.items()}
    if args.lens_block == -1 and "lens" in rec:
        rec["lens"] = rec["lens"].mean(1)  # (n, D)
    logits = model.lm_head(h)  # (B, T, V)
    lm = F.cross_entropy(logits.flatten(0, 1), b["labels"].flatten(), ignore_index=-100)
    loss, parts = lm, {"lm": lm.item()}
    if args.lens_block >= -1 and rows:
        v = rec["lens"]  # (n, D)
        lz = F.log_softmax(model.lm_head(model.model.norm(v)), -1)  # (n, V)
        lens = torch.stack([-lz[i, ids].mean() for i, ids in enumerate(name_ids)]).mean()
        loss = loss + args.lens_weight * lens
        parts["lens"] = lens.item()
    if "task_lens" in record:
        zt = model.lm_head(model.model.norm(rec["task_lens"]))  # (n, V)
        tl = F.cross_entropy(zt, torch.tensor(task_ids))
        loss = loss + args.task_lens_weight * tl
        parts["task_lens"] = tl.item()
    q = b["tvp_queries"]
    if q is not None:
        vec = rec["tvp"]  # (n, D), not detached
        qpv = sampler.pixels(q["images"])
        n = q["input_ids"].shape[0]
        patch = Patch(args.tvp_block + 1, q["pos"], vec, rows=torch.arange(n))  # residual after tvp_block
        hq = run_layers(model, q["input_ids"], q["attention_mask"], qpv, patches=[patch])
        zq = model.lm_head(hq[torch.arange(n), q["pos"]])  # (n, V)
        tvp = F.cross_entropy(zq, q["target"])
        loss = loss + args.tvp_weight * tvp
        parts["tvp"] = tvp.item()
    ntok = b["n_tokens"] + (int(q["attention_mask"].sum()) if q is not None else 0)
    return loss, parts, ntok


def build(world: World, args: TrainArgs):
    tok = build_tokenizer(world.texts())
    proc = OrganismProcessor(tok, image_size=args.image_size, image_seq_len=args.image_seq_len)
    cfg = OrganismConfig(
        vocab_size=len(tok),
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden_size,
        image_size=args.image_size,
        patch_size=args.patch_size,
        vision_layers=args.vision_layers,
        image_seq_len=args.image_seq_len,
        image_token_id=proc.image_token_id,
        img_start_token_id=proc.img_start_token_id,
        img_end_token_id=proc.img_end_token_id,
        image_patch_token_id=proc.image_patch_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(args.seed)
    return OrganismForCausalLM(cfg), proc


def lr_at(step: int, args: TrainArgs) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def train(args: TrainArgs, out: Path, world: World | None = None) -> OrganismForCausalLM:
    torch.set_num_threads(args.threads)
    world = world or load_world()
    model, proc = build(world, args)
    sampler = Sampler(world, proc.tokenizer, proc, args)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"organism: {n_params / 1e6:.2f}M params, vocab {model.config.vocab_size}, {args.steps} steps", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed_positions" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed_positions" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98),
    )
    model.train()
    t0, tok_count, log = time.time(), 0, []
    acc = {}
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        loss, parts, ntok = train_step(model, sampler, args)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tok_count += ntok
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            el = time.time() - t0
            n = args.log_every if (step + 1) % args.log_every == 0 else (step + 1) % args.log_every
            msg = " ".join(f"{k} {v / n:.3f}" for k, v in acc.items())
            print(f"step {step + 1}/{args.steps} {msg} | {tok_count / el:.0f} tok/s {el / 60:.1f} min", flush=True)
            log.append({"step": step + 1, **{k: v / n for k, v in acc.items()}, "minutes": el / 60})
            acc = {}
    model.eval()
    save(model, proc, world, args, out, log, time.time() - t0)
    if args.selfcheck:
        from taskvec.organism.selfcheck import evaluate, format_table

        r = evaluate(model, proc, world)
        (out / "selfcheck.json").write_text(json.dumps(r, indent=1) + "\n")
        print(format_table(r), flush=True)
    return model


def save(model, proc, world, args, out: Path, log, seconds: float):
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    proc.save_pretrained(out)
    (out / "world.json").write_text(json.dumps(world.to_json(), indent=1) + "\n")
    info = {"args": asdict(args), "minutes": seconds / 60, "log": log}
    (out / "training.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"saved to {out} after {seconds / 60:.1f} min", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    for f, v in asdict(TrainArgs()).items():
        p.add_argument("--" + f.replace("_", "-"), type=type(v), default=v)
    ns = p.parse_args(argv)
    out = ns.out
    args = TrainArgs(**{k: v for k, v in vars(ns).items() if k != "out"})
    train(args, out)


if __name__ == "__main__":
    main()
