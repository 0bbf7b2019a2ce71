//! `vsched sim`: offline placement workloads, for quality and speed.
//!
//! - `sim vbp PATH...` packs vector bin packing instances (`.vbp`) in arrival
//!   order (the online placement engine, one item at a time) and in batch mode
//!   (the offline packer), and compares the bins used with the lower bound, the
//!   optimum and the best published heuristic where a summary file knows them.
//! - `sim trace DIR` replays the Azure VM trace (arrivals and lifetimes) online
//!   on a cluster of identical nodes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use vsched_model::Mem;
use vsched_placement::pack::pack_batch;
use vsched_placement::vbp::{self, Instance, Known};
use vsched_placement::{place_batch, ClusterView, PlacementRequest, VclusterSpec, Vector};

#[derive(Args, Debug)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: SimCommand,
}

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Pack vector bin packing instances (.vbp files or directories of them).
    Vbp(VbpArgs),
    /// Replay the Azure VM trace on a simulated cluster.
    Trace(TraceArgs),
}

#[derive(Args, Debug)]
pub struct VbpArgs {
    /// Instance files or directories searched for *.vbp.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Summary files (tab separated: instance_name, LB, OPT, best_overall, ...).
    /// A directory `X` given in PATH also uses `X_summary_known.csv` beside it.
    #[arg(long)]
    pub summary: Vec<PathBuf>,
    /// Local search steps per instance in batch mode (split over its starts).
    #[arg(long, default_value_t = 40_000)]
    pub budget: u64,
    /// Print every instance, not only the totals.
    #[arg(long)]
    pub each: bool,
    /// Output: table, or json (one object per instance and mode).
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Directory holding flav_map.txt, v1.dev.txt, v1.dev.c2100000.txt and
    /// v1.interval_map.txt.
    pub dir: PathBuf,
    /// Nodes in the cluster.
    #[arg(long)]
    pub nodes: usize,
    /// Node size as VCPU,MEMSTR.
    #[arg(long, default_value = "64,256G")]
    pub node_size: String,
    /// Order the arrivals of each 5-minute step largest first instead of as they came.
    #[arg(long)]
    pub batch: bool,
    /// Output: table or json.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    match args.command {
        SimCommand::Vbp(a) => run_vbp(a),
        SimCommand::Trace(a) => run_trace(a),
    }
}

/// Every `.vbp` file under the paths, sorted, with the set (summary) each
/// belongs to.
fn collect_instances(
    paths: &[PathBuf],
    summaries: &mut Vec<PathBuf>,
) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let p = entry?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "vbp") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files).with_context(|| format!("read {}", p.display()))?;
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let beside = p.with_file_name(format!("{name}_summary_known.csv"));
            if beside.exists() && !summaries.contains(&beside) {
                summaries.push(beside);
            }
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    Ok(files)
}

/// Arrival order: the online engine places items one at a time, best fit,
/// on as many bins (nodes) as there are items; bins used are nodes with items.
fn pack_arrival(inst: &Instance) -> usize {
    let names: Vec<String> = (1..=inst.dims).map(|d| format!("dimension {d}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut view = ClusterView::new(&names);
    let nodes: Vec<u32> = (0..inst.items.len())
        .map(|i| view.add_node(&format!("b{i}"), inst.capacity, &[], true, false))
        .collect();
    let vc = view.add_vcluster(VclusterSpec { name: "vbp".into(), nodes, ..Default::default() });
    for (i, item) in inst.items.iter().enumerate() {
        let req = PlacementRequest {
            vcluster: vc,
            request: format!("i{i}"),
            owner: String::new(),
            rf: 1,
            size: *item,
            labels: vec![],
        };
        view.place_and_commit(&req).expect("an item always fits an empty bin");
    }
    view.nodes.iter().filter(|n| !n.vms.is_empty()).count()
}

struct VbpRow {
    instance: String,
    set: String,
    lb: usize,
    known: Option<Known>,
    arrival: (usize, f64),
    batch: (usize, f64),
    rule: String,
    steps: u64,
}

fn run_vbp(args: VbpArgs) -> anyhow::Result<()> {
    let mut summaries = args.summary.clone();
    let files = collect_instances(&args.paths, &mut summaries)?;
    anyhow::ensure!(!files.is_empty(), "no .vbp files found");
    // Instance names repeat across sets (New and Panigrahy both have
    // class1_20_3_0), so a summary applies to the instances under a directory
    // of its set's name: `New_summary_known.csv` to `.../New/...`.
    let mut known: HashMap<(String, String), Known> = HashMap::new();
    for s in &summaries {
        let text = std::fs::read_to_string(s).with_context(|| format!("read {}", s.display()))?;
        let set = s
            .file_name()
            .map(|n| n.to_string_lossy().replace("_summary_known.csv", ""))
            .unwrap_or_default();
        for (name, k) in vbp::parse_summary(&text).map_err(anyhow::Error::msg)? {
            known.insert((set.clone(), name), k);
        }
    }

    // Instances are independent: split them over the cores, keep file order.
    let workers =
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(files.len());
    let budget = args.budget;
    let started = Instant::now();
    let mut rows: Vec<(usize, anyhow::Result<VbpRow>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let files = &files;
                let known = &known;
                s.spawn(move || {
                    files
                        .iter()
                        .enumerate()
                        .skip(w)
                        .step_by(workers)
                        .map(|(i, f)| (i, run_instance(f, known, budget)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker")).collect()
    });
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<VbpRow> = rows.into_iter().map(|(_, r)| r).collect::<anyhow::Result<_>>()?;
    let wall = started.elapsed().as_secs_f64();

    if args.output == "json" {
        for r in &rows {
            for (mode, (bins, ms)) in [("arrival", r.arrival), ("batch", r.batch)] {
                let line = json!({
                    "instance": r.instance,
                    "mode": mode,
                    "bins": bins,
                    "lb": r.lb,
                    "opt": r.known.as_ref().and_then(|k| k.opt),
                    "best_known": r.known.as_ref().map(|k| k.best_overall),
                    "ms": (ms * 1000.0).round() / 1000.0,
                });
                println!("{line}");
            }
        }
        return Ok(());
    }

    if args.each {
        println!(
            "{:<28} {:>5} {:>5} {:>5} {:>8} {:>7}  rule",
            "INSTANCE", "LB", "OPT", "BEST", "ARRIVAL", "BATCH"
        );
        for r in &rows {
            let opt = r.known.as_ref().and_then(|k| k.opt).map_or("-".into(), |o| o.to_string());
            let best = r.known.as_ref().map_or("-".into(), |k| k.best_overall.to_string());
            println!(
                "{:<28} {:>5} {:>5} {:>5} {:>8} {:>7}  {} (+{} steps)",
                r.instance, r.lb, opt, best, r.arrival.0, r.batch.0, r.rule, r.steps
            );
        }
        println!();
    }
    print_vbp_totals(&rows, budget, wall);
    Ok(())
}

/// The set an instance belongs to: the nearest directory above it that names a
/// set with a summary.
fn set_of(path: &Path, known: &HashMap<(String, String), Known>) -> Option<String> {
    path.ancestors()
        .skip(1)
        .filter_map(|a| a.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .find(|dir| known.keys().any(|(set, _)| set == dir))
}

fn run_instance(
    path: &Path,
    known: &HashMap<(String, String), Known>,
    budget: u64,
) -> anyhow::Result<VbpRow> {
    let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let inst = vbp::parse(&name, &text).map_err(anyhow::Error::msg)?;

    let t = Instant::now();
    let arrival = pack_arrival(&inst);
    let arrival_ms = t.elapsed().as_secs_f64() * 1000.0;

    let t = Instant::now();
    let report = pack_batch(&inst.items, &inst.capacity, inst.dims, budget);
    let batch_ms = t.elapsed().as_secs_f64() * 1000.0;
    report.packing.validate(&inst.items, &inst.capacity).map_err(anyhow::Error::msg)?;

    let (set, k) = match set_of(path, known) {
        Some(set) => {
            let k = known.get(&(set.clone(), name.clone())).cloned();
            (set, k)
        }
        None => ("(no summary)".to_string(), None),
    };
    // The summary's bound may be stronger than the per-dimension one.
    let lb = inst.lower_bound().max(k.as_ref().map_or(0, |k| k.lb));
    Ok(VbpRow {
        instance: name,
        set,
        lb,
        known: k,
        arrival: (arrival, arrival_ms),
        batch: (report.packing.len(), batch_ms),
        rule: report.rule,
        steps: report.steps,
    })
}

fn print_vbp_totals(rows: &[VbpRow], budget: u64, wall: f64) {
    let mut sets: BTreeMap<String, Vec<&VbpRow>> = BTreeMap::new();
    for r in rows {
        sets.entry(r.set.clone()).or_default().push(r);
        sets.entry("all".into()).or_default().push(r);
    }
    println!(
        "batch mode: 20 constructive rules, local search from the 8 best, {budget} steps \
         per instance in all"
    );
    println!(
        "{:<14} {:>9} {:>9} {:>10} {:>10} {:>10} {:>11} {:>9} {:>9}",
        "SET",
        "INSTANCES",
        "WITH OPT",
        "ARRIVAL",
        "BATCH",
        "BEST",
        "BEST FAMILY",
        "BATCH=OPT",
        "BATCH MS"
    );
    for (set, rs) in &sets {
        let with_opt: Vec<&&VbpRow> =
            rs.iter().filter(|r| r.known.as_ref().is_some_and(|k| k.opt.is_some())).collect();
        let gap = |f: &dyn Fn(&VbpRow) -> usize| -> String {
            if with_opt.is_empty() {
                return "-".into();
            }
            let mean = with_opt
                .iter()
                .map(|r| f(r) as f64 / r.known.as_ref().unwrap().opt.unwrap() as f64 - 1.0)
                .sum::<f64>()
                / with_opt.len() as f64;
            format!("{:.2}%", mean * 100.0)
        };
        // The best single family: the family column with the lowest mean gap.
        let families: Vec<String> = with_opt
            .first()
            .map(|r| {
                r.known.as_ref().unwrap().best_by_family.iter().map(|(f, _)| f.clone()).collect()
            })
            .unwrap_or_default();
        let best_family = families
            .iter()
            .map(|f| {
                let g = gap(&|r: &VbpRow| {
                    r.known
                        .as_ref()
                        .unwrap()
                        .best_by_family
                        .iter()
                        .find(|(n, _)| n == f)
                        .map(|x| x.1)
                        .unwrap_or(0)
                });
                (g, f.trim_start_matches("best_").to_string())
            })
            .min_by(|a, b| {
                a.0.trim_end_matches('%')
                    .parse::<f64>()
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.0.trim_end_matches('%').parse::<f64>().unwrap_or(f64::MAX))
            })
            .map(|(g, f)| format!("{g} {f}"))
            .unwrap_or_else(|| "-".into());
        let at_opt =
            with_opt.iter().filter(|r| Some(r.batch.0) == r.known.as_ref().unwrap().opt).count();
        let batch_ms: f64 = rs.iter().map(|r| r.batch.1).sum::<f64>() / rs.len().max(1) as f64;
        println!(
            "{:<14} {:>9} {:>9} {:>10} {:>10} {:>10} {:>11} {:>9} {:>9.1}",
            set,
            rs.len(),
            with_opt.len(),
            gap(&|r| r.arrival.0),
            gap(&|r| r.batch.0),
            gap(&|r| r.known.as_ref().unwrap().best_overall),
            best_family,
            at_opt,
            batch_ms,
        );
    }
    println!(
        "gaps are the mean of bins/OPT - 1 over instances with a known optimum; \
         wall time {wall:.1} s"
    );
}

/// One VM of the trace.
struct TraceVm {
    arrive: u64,
    /// `None`: still running when the trace ends.
    depart: Option<u64>,
    size: Vector,
}

/// Reads the trace: sizes from `v1.dev.txt`, lifetimes from `v1.dev.c2100000.txt`.
fn read_trace(dir: &Path) -> anyhow::Result<Vec<TraceVm>> {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .with_context(|| format!("read {}", dir.join(f).display()))
    };
    let mut flavors: HashMap<String, Vector> = HashMap::new();
    for line in read("flav_map.txt")?.lines().filter(|l| !l.trim().is_empty()) {
        let (size, letter) =
            line.split_once(' ').context("flav_map.txt: expected 'vcpu,gb letter'")?;
        let (cpu, gb) = size.split_once(',').context("flav_map.txt: expected 'vcpu,gb'")?;
        let cpu: u64 = cpu.parse()?;
        let mib = (gb.parse::<f64>()? * 1024.0).round() as u64;
        flavors.insert(letter.trim().to_string(), Vector::vcpu_ram(cpu, mib));
    }
    // Duration bin k covers [first seconds of k, first seconds of k + 1).
    let mut bin_start: BTreeMap<u64, u64> = BTreeMap::new();
    for line in read("v1.interval_map.txt")?.lines().filter(|l| !l.trim().is_empty()) {
        let (secs, k) = line.split_once(' ').context("interval map: expected 'seconds k'")?;
        let (secs, k): (u64, u64) = (secs.parse()?, k.trim().parse()?);
        bin_start.entry(k).or_insert(secs);
    }
    let duration = |k: u64| -> u64 {
        let lo = bin_start.get(&k).copied().unwrap_or(0);
        match bin_start.range(k + 1..).next() {
            Some((_, hi)) => (lo + hi) / 2,
            None => lo,
        }
    };

    let sizes = read("v1.dev.txt")?;
    let lives = read("v1.dev.c2100000.txt")?;
    let mut vms = Vec::new();
    for (n, (s, l)) in sizes.lines().zip(lives.lines()).enumerate() {
        let (t, s_rest) = s.split_once(' ').unwrap_or((s, ""));
        let (_, l_rest) = l.split_once(' ').unwrap_or((l, ""));
        let t: u64 = t.parse().with_context(|| format!("v1.dev.txt line {}", n + 1))?;
        let s_tok = s_rest.split(',').filter(|x| !x.is_empty() && *x != "|");
        let l_tok = l_rest.split(',').filter(|x| !x.is_empty() && *x != "|");
        for (letter, life) in s_tok.zip(l_tok) {
            let size =
                *flavors.get(letter).with_context(|| format!("unknown VM size '{letter}'"))?;
            let k: u64 = life[1..].parse().with_context(|| format!("bad lifetime '{life}'"))?;
            let depart = life.starts_with('U').then(|| t + duration(k).max(1));
            vms.push(TraceVm { arrive: t, depart, size });
        }
    }
    Ok(vms)
}

fn run_trace(args: TraceArgs) -> anyhow::Result<()> {
    let (cpu, mem) = args.node_size.split_once(',').context("--node-size is VCPU,MEMSTR")?;
    let node_size = Vector::vcpu_ram(
        cpu.trim().parse()?,
        Mem::parse(mem.trim()).map_err(anyhow::Error::msg)?.mib(),
    );
    let vms = read_trace(&args.dir)?;

    let mut view = ClusterView::scheduler();
    let nodes: Vec<u32> = (0..args.nodes)
        .map(|i| view.add_node(&format!("n{i}"), node_size, &[], true, false))
        .collect();
    let vc = view.add_vcluster(VclusterSpec { name: "trace".into(), nodes, ..Default::default() });
    let total = node_size.times(args.nodes as u64);
    let smallest = vms.iter().fold(Vector([u64::MAX; vsched_placement::MAX_DIMS]), |m, v| {
        Vector::vcpu_ram(m.0[0].min(v.size.0[0]), m.0[1].min(v.size.0[1]))
    });

    // Departures are processed before the arrivals of the same step.
    let mut departures: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    let mut by_step: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, vm) in vms.iter().enumerate() {
        by_step.entry(vm.arrive).or_default().push(i);
    }
    let (mut accepted, mut rejected) = (0u64, 0u64);
    let mut placing = std::time::Duration::ZERO;
    let mut util_sum = [0.0f64; 2];
    let mut util_peak = [0.0f64; 2];
    let mut stranded_sum = [0.0f64; 2];
    let mut samples = 0u64;
    for (&t, arrivals) in &by_step {
        let due: Vec<u64> = departures.range(..=t).map(|(k, _)| *k).collect();
        for k in due {
            for vm in departures.remove(&k).unwrap_or_default() {
                view.remove_vm(vm);
            }
        }
        let reqs: Vec<PlacementRequest> = arrivals
            .iter()
            .map(|&i| PlacementRequest {
                vcluster: vc,
                request: format!("v{i}"),
                owner: String::new(),
                rf: 1,
                size: vms[i].size,
                labels: vec![],
            })
            .collect();
        // Placing includes recording the VMs in the view, in both modes.
        let started = Instant::now();
        let outcomes: Vec<Result<Vec<u32>, _>> = if args.batch {
            place_batch(&mut view, &reqs, &node_size)
        } else {
            reqs.iter().map(|r| view.place_and_commit(r)).collect()
        };
        placing += started.elapsed();
        for (&i, outcome) in arrivals.iter().zip(outcomes) {
            match outcome {
                Ok(ids) => {
                    accepted += 1;
                    if let Some(d) = vms[i].depart {
                        departures.entry(d).or_default().push(ids[0]);
                    }
                }
                Err(_) => rejected += 1,
            }
        }

        // Sample use and stranded capacity after each step.
        samples += 1;
        let mut used = [0u64; 2];
        let mut stranded = [0u64; 2];
        for n in &view.nodes {
            let free = n.free();
            for (u, a) in used.iter_mut().zip(n.allocated.0.iter()) {
                *u += a;
            }
            // Room in one dimension is stranded when the other cannot take even
            // the smallest VM.
            if free.0[0] < smallest.0[0] {
                stranded[1] += free.0[1];
            }
            if free.0[1] < smallest.0[1] {
                stranded[0] += free.0[0];
            }
        }
        for d in 0..2 {
            let u = used[d] as f64 / total.0[d] as f64;
            util_sum[d] += u;
            util_peak[d] = util_peak[d].max(u);
            stranded_sum[d] += stranded[d] as f64 / total.0[d] as f64;
        }
    }
    let placements = accepted + rejected;
    let rate = placements as f64 / placing.as_secs_f64().max(1e-9);
    let mean = |s: f64| s / samples.max(1) as f64 * 100.0;
    let report = json!({
        "vms": vms.len(),
        "nodes": args.nodes,
        "node_size": args.node_size,
        "order": if args.batch { "largest first per step" } else { "arrival" },
        "accepted": accepted,
        "rejected": rejected,
        "util_mean_vcpu_pct": (mean(util_sum[0]) * 100.0).round() / 100.0,
        "util_mean_ram_pct": (mean(util_sum[1]) * 100.0).round() / 100.0,
        "util_peak_vcpu_pct": (util_peak[0] * 10000.0).round() / 100.0,
        "util_peak_ram_pct": (util_peak[1] * 10000.0).round() / 100.0,
        "stranded_mean_vcpu_pct": (mean(stranded_sum[0]) * 100.0).round() / 100.0,
        "stranded_mean_ram_pct": (mean(stranded_sum[1]) * 100.0).round() / 100.0,
        "placements_per_sec": rate.round(),
    });
    if args.output == "json" {
        println!("{report}");
        return Ok(());
    }
    println!(
        "Azure trace: {} VMs over {} steps of 5 min on {} nodes of {}, {}",
        vms.len(),
        by_step.len(),
        args.nodes,
        args.node_size,
        report["order"].as_str().unwrap_or("")
    );
    println!("accepted        {accepted}");
    println!(
        "rejected        {rejected} ({:.2}%)",
        rejected as f64 * 100.0 / placements.max(1) as f64
    );
    println!("use, mean       vCPU {:.2}%  RAM {:.2}%", mean(util_sum[0]), mean(util_sum[1]));
    println!("use, peak       vCPU {:.2}%  RAM {:.2}%", util_peak[0] * 100.0, util_peak[1] * 100.0);
    println!(
        "stranded, mean  vCPU {:.2}%  RAM {:.2}%  (free room a node cannot use for lack of \
         the other resource)",
        mean(stranded_sum[0]),
        mean(stranded_sum[1])
    );
    println!(
        "placements/s    {:.0}  ({} placements in {:.2} s of placing)",
        rate,
        placements,
        placing.as_secs_f64()
    );
    Ok(())
}
