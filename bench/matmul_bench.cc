#include "bench/matmul_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <tuple>

#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/json.h"
#include "bench/launcher.h"
#include "bench/scenario.h"
#include "bench/stats.h"
#include "codes/factory.h"
#include "common/logging.h"
#include "common/matrix_util.h"
#include "common/random.h"
#include "common/status.h"
#include "proto/codedge.grpc.pb.h"
#include "proto/wire.h"

namespace codedge::bench {
namespace {

// How long `--server` may take to accept a connection.
constexpr absl::Duration kConnectTimeout = absl::Seconds(20);

// A set of experiments sharing one latency set per repeat: the sizes of
// Scheme A run on the same workers; each Scheme B point has its own.
struct Group {
  std::string scheme;
  Latency latency;
  std::vector<int64_t> sizes;  // rows of A
};

std::vector<Group> Groups(const MatmulOptions& o) {
  std::vector<Group> g;
  if (!o.server.empty()) {  // a running cluster straggles as it does: sizes only
    std::vector<int64_t> sizes;
    for (const std::string& s : o.schemes) {
      if (s == "A") {
        for (int64_t r : o.quick ? std::vector<int64_t>{2000, 6000}
                                 : std::vector<int64_t>{1000, 2000, 3000, 4000, 5000, 6000}) {
          sizes.push_back(r);
        }
      }
      if (s == "B" && std::find(sizes.begin(), sizes.end(), 6000) == sizes.end()) sizes.push_back(6000);
    }
    if (o.model == "initial-delay") sizes = {o.rows};
    g.push_back({"external", {"external", 0, 0}, sizes});
    return g;
  }
  if (o.model == "initial-delay") {
    g.push_back({"initial-delay", {"exponential", o.mu, 0}, {o.rows}});
    return g;
  }
  for (const std::string& s : o.schemes) {
    if (s == "A") {
      std::vector<int64_t> sizes = o.quick ? std::vector<int64_t>{2000, 6000}
                                           : std::vector<int64_t>{1000, 2000, 3000, 4000, 5000, 6000};
      for (const Latency& l : {Latency{"uniform", 1, 50}, Latency{"normal", 20, 16}, Latency{"exponential", 16, 0}}) {
        g.push_back({"A", l, sizes});
      }
    } else if (s == "B") {
      std::vector<double> hi = o.quick ? std::vector<double>{10, 90} : std::vector<double>{10, 30, 50, 70, 90};
      std::vector<double> p = o.quick ? std::vector<double>{12, 20} : std::vector<double>{12, 14, 16, 18, 20};
      for (double h : hi) g.push_back({"B", {"uniform", 1, h}, {6000}});
      for (double sd : p) g.push_back({"B", {"normal", 20, sd}, {6000}});
      for (double m : p) g.push_back({"B", {"exponential", m, 0}, {6000}});
    }
  }
  return g;
}

struct Sample {
  double t = 0, t_star = 0, work = 0, client = 0;
};

}  // namespace

absl::StatusOr<double> IdealCompletionTime(const std::vector<double>& start, const std::vector<double>& speed,
                                           double rows) {
  if (start.empty() || start.size() != speed.size() || !(rows > 0)) {
    return absl::InvalidArgumentError("ideal time needs as many start times as speeds, and rows > 0");
  }
  std::vector<std::pair<double, double>> w;
  for (size_t i = 0; i < start.size(); ++i) {
    if (!(speed[i] > 0) || !std::isfinite(start[i])) return absl::InvalidArgumentError("speeds must be > 0");
    w.emplace_back(std::max(0.0, start[i]), speed[i]);
  }
  std::sort(w.begin(), w.end());
  // Between consecutive start times the work done grows linearly with the
  // speeds of the workers already started.
  double done = 0, rate = 0, t = w[0].first;
  for (size_t i = 0; i < w.size(); ++i) {
    if (i > 0) {
      const double next = w[i].first;
      if (rate > 0 && done + rate * (next - t) >= rows) return t + (rows - done) / rate;
      done += rate * (next - t);
      t = next;
    }
    rate += w[i].second;
  }
  return t + (rows - done) / rate;
}

absl::StatusOr<MatmulResult> RunMatmulBench(const MatmulOptions& o) {
  if (o.model != "paper" && o.model != "initial-delay") {
    return absl::InvalidArgumentError(absl::StrCat("--model must be paper or initial-delay, got '", o.model, "'"));
  }
  if (o.workers < 2 || o.workers > 100) return absl::InvalidArgumentError("--workers must be in [2, 100]");
  if (o.repeats < 1) return absl::InvalidArgumentError("--repeats must be >= 1");
  if (o.delay_mode != "set" && o.delay_mode != "per-task") {
    return absl::InvalidArgumentError(absl::StrCat("--delay_mode must be set or per-task, got '", o.delay_mode, "'"));
  }
  if (!(o.cpu_quota >= 0)) return absl::InvalidArgumentError("--cpu_quota must be >= 0");
  if (!(o.slowdown >= 1)) return absl::InvalidArgumentError("--slowdown must be >= 1");
  if (!(o.mu > 0) || !(o.row_units > 0) || o.rows < 1) {
    return absl::InvalidArgumentError("--mu, --row_units and --rows must be positive");
  }
  for (const std::string& s : o.schemes) {
    if (s != "A" && s != "B") return absl::InvalidArgumentError(absl::StrCat("unknown scheme '", s, "' (A or B)"));
  }
  std::vector<std::pair<std::string, std::string>> strategies;
  for (const std::string& s : o.strategies) {
    ASSIGN_OR_RETURN(std::string spec, StrategySpec(s, o.workers, o.lt_spec));
    // Checked here, before any worker starts (the server would refuse it
    // only at the first job).
    absl::StatusOr<CodeSpec> parsed = ParseCodeSpec(spec);
    absl::Status st = parsed.ok() ? CheckCodeSpec(*parsed) : parsed.status();
    if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("strategy ", s, " (", spec, "): ", st.message()));
    strategies.emplace_back(s, spec);
  }
  const bool initial = o.model == "initial-delay";
  const double unit =
      absl::ToDoubleSeconds(o.time_unit > absl::ZeroDuration() ? o.time_unit
                                                                 : (initial ? absl::Seconds(1) : absl::Milliseconds(30)));
  MatmulResult result;
  result.time_unit_s = unit;
  const auto wall_start = SteadyClock::now();

  // Worker speed for T*: emulated (initial-delay) or the measured local
  // single-thread product rate per shape (paper model).
  Pcg32 data_rng(o.seed, 0x6d6d);
  std::map<int64_t, std::pair<Matrix, double>> inputs;  // rows -> (A, rows per second)
  const Matrix b = RandomUniformMatrix(1000, 10, data_rng);
  const std::vector<Group> groups = Groups(o);
  for (const Group& g : groups) {
    for (int64_t rows : g.sizes) {
      if (inputs.count(rows)) continue;
      Matrix a = RandomUniformMatrix(rows, 1000, data_rng);
      std::vector<double> t;
      Matrix c;
      for (int i = 0; i < 5; ++i) {
        const auto s = SteadyClock::now();
        c.noalias() = a * b;
        t.push_back(SecondsSince(s));
      }
      inputs[rows] = {std::move(a), static_cast<double>(rows) / Median(t)};
    }
  }

  // (group index, rows, strategy) -> samples
  std::map<std::tuple<size_t, int64_t, std::string>, std::vector<Sample>> samples;
  const int total_sets = static_cast<int>(groups.size()) * o.repeats;
  int set_no = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    for (int rep = 0; rep < o.repeats; ++rep) {
      ++set_no;
      Pcg32 rng(MixSeed(o.seed, gi * 1000 + rep), 0x6c6174);  // "lat"
      const bool external = !o.server.empty();
      std::vector<double> start(o.workers, 0.0);
      std::vector<WorkerLaunch> launch(o.workers);
      for (int i = 0; i < o.workers; ++i) {
        std::vector<std::string>& args = launch[i].args;
        args = {"--threads=1", "--log_level=warn"};
        if (o.delay_mode == "set" || initial) {
          start[i] = g.latency.Draw(rng);
          args.push_back(absl::StrCat("--delay=const:", start[i] * unit));
          args.push_back("--delay_scope=job");
        } else {
          args.push_back(absl::StrCat("--delay=", g.latency.PerTaskFlag(unit)));
        }
        if (initial) args.push_back(absl::StrCat("--row_time=", o.row_units * unit));
        if (o.slowdown > 1) args.push_back(absl::StrCat("--slowdown=", o.slowdown));
        launch[i].cpu_quota = o.cpu_quota;
      }
      std::unique_ptr<LocalCluster> cluster;
      std::string address = o.server, logs = "the cluster's own logs";
      if (!external) {
        LaunchOptions lo;
        lo.log_dir = absl::StrCat("/tmp/codedge-bench-", getpid());
        lo.server_args = {"--log_level=warn"};
        ASSIGN_OR_RETURN(cluster, LocalCluster::Start(lo, launch));
        result.quotas_applied = cluster->quotas_applied();
        address = cluster->address();
        logs = cluster->log_dir();
      }
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(1 << 30);
      args.SetMaxSendMessageSize(1 << 30);
      const ClientSecurity security = external ? o.security : PlaintextClient();
      security.Apply(&args);
      std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, security.credentials, args);
      if (external) Log().info("matmul: connecting to {}", address);
      if (external && !channel->WaitForConnected(absl::ToChronoTime(absl::Now() + kConnectTimeout))) {
        // Each job below waits for a server that is coming up, for up to 10
        // minutes: a wrong address would look like a hang.
        return absl::UnavailableError(absl::StrCat("cannot reach an edge server at ", address, " in ",
                                                   absl::FormatDuration(kConnectTimeout),
                                                   ": is it running there, and do --insecure / --tls_* match its "
                                                   "transport?"));
      }
      auto stub = v1::Compute::NewStub(channel);
      std::string line;
      for (int64_t rows : g.sizes) {
        const auto& [a, local_rate] = inputs.at(rows);
        const double speed = initial ? 1.0 / (o.row_units * unit) : local_rate;
        double t_star = 0;
        if (!external && (o.delay_mode == "set" || initial)) {
          std::vector<double> starts_s(o.workers), speeds(o.workers, speed);
          for (int i = 0; i < o.workers; ++i) starts_s[i] = start[i] * unit;
          ASSIGN_OR_RETURN(t_star, IdealCompletionTime(starts_s, speeds, static_cast<double>(rows)));
        }
        v1::MultiplyRequest req;
        MatrixToProto(a, req.mutable_a());
        MatrixToProto(b, req.mutable_b());
        for (const auto& [name, spec] : strategies) {
          req.mutable_strategy()->set_spec(spec);
          v1::MultiplyResponse resp;
          grpc::ClientContext ctx;
          ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
          ctx.set_wait_for_ready(external);  // a running cluster may still be coming up
          security.Apply(&ctx);
          const auto s = SteadyClock::now();
          grpc::Status st = stub->Multiply(&ctx, req, &resp);
          const double t = SecondsSince(s);
          if (!st.ok()) {
            return absl::InternalError(absl::StrCat(name, " (", spec, ") on ", rows, " rows failed: ", st.error_message(),
                                                    "; logs in ", logs));
          }
          int64_t computed = resp.stats().rows_wasted();
          for (const auto& w : resp.stats().per_worker()) computed += w.rows();
          // T is the job's time in the server (submit -> product), what the
          // in-server trainer waits; the client round trip adds moving A to
          // the server and the product back (reported beside it).
          const double job = resp.stats().total_seconds();
          samples[{gi, rows, name}].push_back(Sample{job / unit, t_star / unit,
                                                     static_cast<double>(computed) / static_cast<double>(rows),
                                                     t / unit});
          absl::StrAppend(&line, line.empty() ? "" : ", ", name, " ", absl::StrFormat("%.2f", job / unit));
        }
      }
      Log().info("[{}/{}] {} {} {} repeat {}/{}: {} (units of {} ms)", set_no, total_sets,
                 initial ? "initial-delay" : absl::StrCat("scheme ", g.scheme), g.latency.dist, g.latency.Label(),
                 rep + 1, o.repeats, line, unit * 1e3);
    }
  }

  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    for (int64_t rows : g.sizes) {
      for (const auto& [name, spec] : strategies) {
        const std::vector<Sample>& v = samples[{gi, rows, name}];
        std::vector<double> t, ts, ratio, work, client;
        for (const Sample& s : v) {
          t.push_back(s.t);
          client.push_back(s.client);
          ts.push_back(s.t_star);
          if (s.t_star > 0) ratio.push_back(s.t / s.t_star);
          work.push_back(s.work);
        }
        MatmulRow r;
        r.scheme = g.scheme;
        r.distribution = g.latency.dist;
        r.param = g.latency.Label();
        r.strategy = name;
        r.rows = rows;
        r.runs = static_cast<int>(v.size());
        r.t_median = Median(t);
        r.t_min = *std::min_element(t.begin(), t.end());
        r.t_max = *std::max_element(t.begin(), t.end());
        r.t_star_median = Median(ts);
        if (!ratio.empty()) {
          r.ratio_median = Median(ratio);
          r.ratio_min = *std::min_element(ratio.begin(), ratio.end());
          r.ratio_max = *std::max_element(ratio.begin(), ratio.end());
        }
        r.work_median = Median(work);
        r.client_median = Median(client);
        result.rows.push_back(r);
      }
    }
  }
  result.wall_s = SecondsSince(wall_start);
  return result;
}

void PrintMatmulTable(const MatmulResult& r, std::ostream& out) {
  out << absl::StrFormat("Times in units of %g ms, median [min, max] over repeats. T: the job in the server (submit ->\n"
                         "product); T*: ideal fluid load balancer; work: rows computed (wasted included) / rows of A;\n"
                         "client: the Multiply round trip (A to the server, product back)\n",
                         r.time_unit_s * 1e3);
  out << absl::StrFormat("%-13s %-12s %-16s %6s  %-15s %9s %19s %8s %7s %15s %6s %8s\n", "scheme", "latency", "param",
                         "rows", "strategy", "T", "[min, max]", "T*", "T/T*", "[min, max]", "work", "client");
  std::string last;
  for (const MatmulRow& x : r.rows) {
    const std::string key = absl::StrCat(x.scheme, x.distribution, x.param, x.rows);
    if (!last.empty() && key != last) out << "\n";
    last = key;
    // No T*: a running cluster (--server), whose latencies are unknown
    // here, or fresh per-task delays (--delay_mode per-task).
    const std::string ideal =
        x.t_star_median > 0
            ? absl::StrFormat("%8.2f %7.3f [%6.3f, %6.3f]", x.t_star_median, x.ratio_median, x.ratio_min, x.ratio_max)
            : absl::StrFormat("%8s %7s %16s", "-", "-", "");
    out << absl::StrFormat("%-13s %-12s %-16s %6d  %-15s %9.2f [%8.2f, %8.2f] %s %6.3f %8.2f\n", x.scheme,
                           x.distribution, x.param, x.rows, x.strategy, x.t_median, x.t_min, x.t_max, ideal,
                           x.work_median, x.client_median);
  }
  out << absl::StrFormat("(%s; %.0f s wall)\n", r.quotas_applied ? "CPU quotas applied" : "no CPU quotas", r.wall_s);
}

std::string MatmulJson(const MatmulResult& r, const MatmulOptions& o) {
  JsonWriter w;
  w.BeginObject()
      .Key("model").String(o.model)
      .Key("time_unit_s").Number(r.time_unit_s)
      .Key("workers").Int(o.workers)
      .Key("repeats").Int(o.repeats)
      .Key("seed").Int(static_cast<int64_t>(o.seed))
      .Key("quotas_applied").Bool(r.quotas_applied)
      .Key("wall_s").Number(r.wall_s)
      .Key("results").BeginArray();
  for (const MatmulRow& x : r.rows) {
    w.BeginObject()
        .Key("scheme").String(x.scheme)
        .Key("distribution").String(x.distribution)
        .Key("param").String(x.param)
        .Key("rows").Int(x.rows)
        .Key("strategy").String(x.strategy)
        .Key("runs").Int(x.runs)
        .Key("t_median").Number(x.t_median)
        .Key("t_min").Number(x.t_min)
        .Key("t_max").Number(x.t_max)
        .Key("t_star_median").Number(x.t_star_median)
        .Key("ratio_median").Number(x.ratio_median)
        .Key("ratio_min").Number(x.ratio_min)
        .Key("ratio_max").Number(x.ratio_max)
        .Key("work_median").Number(x.work_median)
        .Key("client_median").Number(x.client_median)
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.str() + "\n";
}

std::string MatmulCsv(const MatmulResult& r) {
  std::string out =
      "scheme,distribution,param,rows,strategy,runs,t_median,t_min,t_max,t_star_median,ratio_median,ratio_min,"
      "ratio_max,work_median,client_median\n";
  for (const MatmulRow& x : r.rows) {
    absl::StrAppend(&out, x.scheme, ",", x.distribution, ",\"", x.param, "\",", x.rows, ",\"", x.strategy, "\",", x.runs,
                    ",", absl::StrFormat("%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", x.t_median, x.t_min, x.t_max,
                                         x.t_star_median, x.ratio_median, x.ratio_min, x.ratio_max, x.work_median,
                                         x.client_median));
  }
  return out;
}

absl::Status WriteMatmulPlots(const MatmulResult& r, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  // One data file per (scheme, distribution): x, then T per strategy.
  std::vector<std::string> strategies;
  for (const MatmulRow& x : r.rows) {
    if (std::find(strategies.begin(), strategies.end(), x.strategy) == strategies.end()) strategies.push_back(x.strategy);
  }
  std::map<std::string, std::map<double, std::map<std::string, std::pair<double, double>>>> data;  // file -> x -> strat
  std::vector<std::string> files;
  int point = 0;
  std::string last;
  for (const MatmulRow& x : r.rows) {
    const std::string key = absl::StrCat(x.scheme, x.distribution, x.param, x.rows);
    if (key != last) ++point;
    last = key;
    double xv = static_cast<double>(x.rows);
    if (x.scheme == "B") {
      // uniform: upper end; normal: SD; exponential: mean (the varied parameter)
      double a = 0, b = 0;
      if (x.distribution == "uniform") std::sscanf(x.param.c_str(), "%lf-%lf", &a, &b), xv = b;
      if (x.distribution == "normal") std::sscanf(x.param.c_str(), "mean %lf sd %lf", &a, &b), xv = b;
      if (x.distribution == "exponential") std::sscanf(x.param.c_str(), "mean %lf", &a), xv = a;
    }
    const std::string file = absl::StrCat(x.scheme, "-", x.distribution);
    if (!data.count(file)) files.push_back(file);
    data[file][xv][x.strategy] = {x.t_median, x.ratio_median};
    data["ratio"][point][x.strategy] = {x.ratio_median, 0};
  }
  files.push_back("ratio");
  for (const std::string& f : files) {
    std::ofstream out(absl::StrCat(dir, "/", f, ".dat"));
    out << "# x " << absl::StrJoin(strategies, " ") << "\n";
    for (const auto& [xv, by] : data[f]) {
      out << xv;
      for (const std::string& s : strategies) out << " " << (by.count(s) ? by.at(s).first : NAN);
      out << "\n";
    }
  }
  std::ofstream gp(absl::StrCat(dir, "/plots.gp"));
  auto panel_set = [&](const std::string& scheme, const std::string& name, const std::string& xlabel) {
    std::vector<std::string> panels;
    for (const std::string& f : files)
      if (f.rfind(scheme + "-", 0) == 0) panels.push_back(f);
    if (panels.empty()) return;
    for (const char* term : {"pngcairo size 1500,450", "svg size 1500,450"}) {
      const bool png = std::string(term).rfind("png", 0) == 0;
      gp << "set terminal " << term << "\nset output '" << name << (png ? ".png" : ".svg") << "'\n";
      gp << "set multiplot layout 1," << panels.size() << "\nset key top left\nset grid\n";
      for (const std::string& p : panels) {
        gp << "set title '" << p << "'\nset xlabel '" << (scheme == "A" ? "rows of A" : xlabel)
           << "'\nset ylabel 'time (units of " << r.time_unit_s * 1e3 << " ms)'\nplot ";
        for (size_t i = 0; i < strategies.size(); ++i) {
          gp << (i ? ", " : "") << "'" << p << ".dat' using 1:" << i + 2 << " with linespoints title '" << strategies[i]
             << "'";
        }
        gp << "\n";
      }
      gp << "unset multiplot\n";
    }
  };
  panel_set("A", "fig10", "rows of A");
  panel_set("B", "fig11", "latency range / SD / mean");
  panel_set("initial-delay", "initial-delay", "rows of A");
  for (const char* term : {"pngcairo size 900,450", "svg size 900,450"}) {
    const bool png = std::string(term).rfind("png", 0) == 0;
    gp << "set terminal " << term << "\nset output 'ratio" << (png ? ".png" : ".svg")
       << "'\nset title 'time / ideal (T/T*) per experiment'\nset xlabel 'experiment'\nset ylabel 'T / T*'\n"
       << "set logscale y\nset key top left\nset grid\nplot ";
    for (size_t i = 0; i < strategies.size(); ++i) {
      gp << (i ? ", " : "") << "'ratio.dat' using 1:" << i + 2 << " with linespoints title '" << strategies[i] << "'";
    }
    gp << "\nunset logscale y\n";
  }
  gp.close();
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    return absl::UnavailableError(absl::StrCat("gnuplot is not installed; data and script are in ", dir));
  }
  const std::string cmd = absl::StrCat("cd '", dir, "' && gnuplot plots.gp 2> gnuplot.log");
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("gnuplot failed; see ", dir, "/gnuplot.log"));
  }
  return absl::OkStatus();
}

}  // namespace codedge::bench
