#include "codes/lt.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <queue>
#include <span>
#include <thread>
#include <type_traits>

#include <Eigen/QR>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace codedge {
namespace {

constexpr uint64_t kLtStream = 0x6c74;  // "lt"

// dst -= src over n doubles (distinct rows). Through Eigen maps: vector
// packets; the plain loop stayed scalar (the compiler cannot rule out
// aliasing), which made applying a plan 3x slower.
inline void SubtractRow(double* dst, const double* src, int64_t n) {
  Eigen::Map<Eigen::ArrayXd>(dst, n) -= Eigen::Map<const Eigen::ArrayXd>(src, n);
}
constexpr int64_t kMaxTaskSymbolIndex = int64_t{1} << 62;

// Incremental LT decoder.
//
// Names: k sources; "equations" are the received coded symbols; for equation
// e, rem[e] = its neighbours not yet determined and idx_sum[e] = the sum of
// their ids, so when rem[e] == 1, idx_sum[e] *is* the last unknown source.
//
// 1. As results arrive, Add() runs *structural* peeling only (no row values).
// 2. When peeling stalls with at least as many unused equations as unknown
//    sources, inactivation decoding plans the residual: peel on,
//    declaring a few sources "inactive" (free variables x) whenever stuck;
//    every resolved source is then  v_s + c_s . x,  and the unused equations
//    give  M x = rhs.  The rank check runs over GF(2) on bitsets (cheap; a
//    0/1 matrix of full rank mod 2 has an odd determinant, hence full rank
//    over the reals too -- conservative, never wrong).
// 3. Numerics. Over the reals a peeling chain sums the rounding errors of
//    every source it subtracts, and in arrival order these sums compound
//    along chains of depth ~sqrt(k) (measured: relative error 1e+8 at
//    k = 10000 with float32 data). So the value solve is planned best-first:
//    each source is resolved by the ready equation with the smallest error
//    bound, bound(e) = 1 + sum of the bounds of the sources subtracted from e
//    (Knuth's generalisation of Dijkstra: each source gets its smallest
//    achievable bound); the core, whose full column rank the GF(2) check
//    settles, is solved by least squares (Householder QR) in double.
// 4. Before answering "decodable", the plan is applied to a random probe
//    (noise of relative size 2^-24, as float32 results carry); if the probe
//    amplifies the noise more than params.max_error_amplification, wait for
//    more symbols (more choice for the best-first plan).
// Decode() applies the same plan to the real results ("pull" form: a
// resolved source reads its equation and its known neighbours, O(degree)).
class LtDecoder : public Decoder {
 public:
  explicit LtDecoder(const LtCode& code) : Decoder(code), lt_(code), k_(code.k()) {
    decoded_.assign(k_, 0);
    adj_.resize(k_);
    // Each source sits in about mean_degree equations by decoding time.
    const size_t expect = static_cast<size_t>(code.mean_degree() * 1.25) + 2;
    for (auto& a : adj_) a.reserve(expect);
    eq_begin_.push_back(0);
    const int64_t cap = code.params().max_inactivations;
    // The real-valued core costs O(i * residual edges) to set up and O(i^3) to
    // factor; beyond this cap it is cheaper to wait for more symbols.
    // The automatic cap is 8 sqrt(k), and at most what keeps the dense
    // coefficients (about k x cap doubles) near 256 MiB.
    const double kd = static_cast<double>(k_);
    min_surplus_ = static_cast<int64_t>(code.params().elimination_surplus * kd);
    max_inactive_ = cap > 0 ? cap
                            : std::max<int64_t>(64, static_cast<int64_t>(std::min(8.0 * std::sqrt(kd), 3.2e7 / kd)));
  }

 protected:
  absl::StatusOr<bool> DoAdd(const TaskSpec& task, ConstMatrixRef result) override {
    const int64_t sr = lt_.layout().symbol_rows;
    len_ = sr * cols();
    // Room for ~1.1 k symbols up front: growing by doubling copied the
    // results over and over (a tenth of a decode at 64 rows per symbol).
    if (vals_.empty()) vals_.reserve(static_cast<size_t>(static_cast<double>(k_) * 1.1 + 1) * static_cast<size_t>(len_));
    const size_t at = vals_.size();
    vals_.resize(at + result.rows() * result.cols());
    Eigen::Map<Matrix>(vals_.data() + at, result.rows(), result.cols()) = result;  // row-major: symbol after symbol
    for (const CodedSymbol& sym : task.symbols) AddEquation(sym.sources);
    Peel();
    // A wait for rank (capped core, deficiency) ends early if peeling alone
    // completes; a wait for accuracy does not.
    const bool peeled_all = num_decoded_ == k_;
    if (NumEqs() < next_attempt_at_ && !(peeled_all && !waiting_for_accuracy_)) return false;
    if (!peeled_all) {
      // A 0/1 system with no more equations than unknowns is rank deficient
      // over GF(2) more often than not, and an attempt costs a full plan:
      // large systems attempt only with a small surplus (elimination_surplus
      // x k: 0.1 % by default).
      if (!lt_.params().elimination || active_ < k_ - num_decoded_ + min_surplus_) return false;
      stats_.elimination_attempts++;
    }
    if (const int64_t deficiency = BuildPlan(); deficiency > 0) {
      waiting_for_accuracy_ = false;
      next_attempt_at_ = NumEqs() + deficiency;
      return false;
    }
    return AccurateEnough();
  }

  // The plan is applied to a band of each symbol's rows at a time: a band's
  // doubles stay in cache (a whole training product's are megabytes: 613
  // symbols of 64 x 16 values are 5 MB, and touching them fresh cost a sixth
  // of the decode in page faults), and each band goes straight into the
  // output.
  static constexpr int64_t kBandDoubles = 1 << 16;  // ~512 KiB of x per band
  // Bands are independent (each reads the results' columns of its rows and
  // writes its own rows of the output), so a product this large (in
  // values, k x symbol values) has its bands shared by decode_threads threads.
  static constexpr int64_t kParallelDoubles = 1 << 20;

  absl::StatusOr<Matrix> DoDecode() override {
    const SourceLayout& l = lt_.layout();
    Matrix out(l.rows, cols());
    // Bands of whole symbol rows (a symbol's values are its rows, row-major).
    const int64_t band_rows = std::max<int64_t>(1, kBandDoubles / (k_ * cols()));
    const int64_t bands = (l.symbol_rows + band_rows - 1) / band_rows;
    int64_t threads = 1;
    if (k_ * len_ >= kParallelDoubles) {
      threads = lt_.params().decode_threads > 0 ? lt_.params().decode_threads
                                                : std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 4);
      threads = std::min(threads, bands);
    }
    const size_t nred = plan_.redundant.size();
    std::vector<double> res_max(static_cast<size_t>(threads) * nred, 0.0), ref_max(res_max.size(), 0.0);
    auto run = [&](int64_t t) {  // bands t, t + threads, ...
      ApplyScratch scratch;
      const std::vector<double>& x = scratch.x;
      std::vector<double> res(nred, 0.0), ref(nred, 0.0);
      for (int64_t band = t; band < bands; band += threads) {
        const int64_t r0 = band * band_rows, nr = std::min(band_rows, l.symbol_rows - r0), c0 = r0 * cols(),
                      w = nr * cols();
        ApplyPlan(vals_.data() + c0, len_, w, scratch);  // the float results, widened as they are read
        RedundancyResidual(vals_.data() + c0, len_, x.data(), w, &res, &ref);
        for (int64_t s = 0; s < k_; ++s) {
          const int64_t begin = l.SymbolBegin(s), rows = std::min(l.SymbolEnd(s) - begin - r0, nr);
          if (rows <= 0) continue;  // the ragged last symbol's padding
          out.middleRows(begin + r0, rows) =
              Eigen::Map<const MatrixD>(x.data() + s * w, nr, cols()).topRows(rows).cast<float>();
        }
      }
      std::copy(res.begin(), res.end(), res_max.begin() + t * static_cast<int64_t>(nred));
      std::copy(ref.begin(), ref.end(), ref_max.begin() + t * static_cast<int64_t>(nred));
    };
    std::vector<std::thread> helpers;
    for (int64_t t = 1; t < threads; ++t) helpers.emplace_back(run, t);
    run(0);
    for (std::thread& h : helpers) h.join();
    for (int64_t t = 1; t < threads; ++t) {  // fold each thread's maxima into the first's
      for (size_t i = 0; i < nred; ++i) {
        res_max[i] = std::max(res_max[i], res_max[t * nred + i]);
        ref_max[i] = std::max(ref_max[i], ref_max[t * nred + i]);
      }
    }
    double worst = 0;
    for (size_t i = 0; i < nred; ++i) {
      if (ref_max[i] > 0) worst = std::max(worst, res_max[i] / ref_max[i]);
    }
    stats_.redundant_symbols = static_cast<int64_t>(plan_.redundant.size());
    stats_.worst_redundant_residual = worst;
    return out;
  }

 private:
  enum : uint8_t { kUnknown = 0, kResolved = 1, kInactive = 2 };

  int64_t NumEqs() const { return static_cast<int64_t>(eq_begin_.size()) - 1; }
  std::span<const int32_t> Nbrs(int64_t e) const {
    return {nbrs_.data() + eq_begin_[e], static_cast<size_t>(eq_begin_[e + 1] - eq_begin_[e])};
  }

  // ---- 1. structure, as results arrive --------------------------------------

  void AddEquation(const std::vector<int32_t>& sources) {
    const int32_t id = static_cast<int32_t>(NumEqs());
    nbrs_.insert(nbrs_.end(), sources.begin(), sources.end());
    eq_begin_.push_back(static_cast<int64_t>(nbrs_.size()));
    int32_t rem = 0;
    int64_t idx_sum = 0;
    for (int32_t s : sources) {
      if (decoded_[s]) continue;
      rem++;
      idx_sum += s;
      adj_[s].push_back(id);
    }
    rem_.push_back(rem);
    idx_sum_.push_back(idx_sum);
    used_.push_back(rem == 0);  // redundant on arrival
    if (rem == 0) return;
    active_++;
    if (rem == 1) ripple_.push_back(id);
  }

  void Peel() {
    while (!ripple_.empty()) {
      const int32_t id = ripple_.back();
      ripple_.pop_back();
      if (used_[id]) continue;
      used_[id] = 1;
      active_--;
      const int32_t s = static_cast<int32_t>(idx_sum_[id]);
      decoded_[s] = 1;
      num_decoded_++;
      for (int32_t e : adj_[s]) {
        if (used_[e]) continue;
        idx_sum_[e] -= s;
        if (--rem_[e] == 1) {
          ripple_.push_back(e);
        } else if (rem_[e] == 0) {
          used_[e] = 1;
          active_--;
        }
      }
      std::vector<int32_t>().swap(adj_[s]);
    }
  }

  // ---- 2. inactivation: phase 1 (which source each equation resolves) ------

  // Result of phase 1 over a residual system.
  struct Inactivation {
    std::vector<uint8_t> state;        // per source: kUnknown (=known before), kResolved, kInactive
    std::vector<int32_t> slot;         // resolved: index in order; inactive: index in inactive
    std::vector<int32_t> order, resolver, inactive, constraints;
    // Per resolved row: inactives that existed when it was resolved. Its
    // coefficients over later inactives are zero (they did not exist yet),
    // so c_s lives in a prefix -- about half the work of full rows.
    std::vector<int32_t> width;
    bool capped = false;               // stopped at max_inactive_
  };

  // `known[s]`: determined before the residual. `cnt[e]`: unknown neighbours
  // of each unused equation (0 for used ones); `active`: the unused
  // equations; `eqs_of(s)`: equations holding s (used ones are skipped via
  // cnt/consumed). Peels best-first by error bound; when stuck, inactivates
  // the most connected unknown source of a lowest-count equation.
  template <typename EqsOf>
  Inactivation Inactivate(const std::vector<uint8_t>& known, std::vector<int32_t> cnt,
                          const std::vector<int32_t>& active, EqsOf&& eqs_of) const {
    Inactivation in;
    in.state.assign(k_, kUnknown);
    in.slot.assign(k_, -1);
    std::vector<uint8_t> consumed(cnt.size(), 0);
    std::vector<double> ebound(cnt.size(), 1.0);
    int64_t unknown_left = 0;
    for (int64_t s = 0; s < k_; ++s) unknown_left += !known[s];
    using Entry = std::pair<double, int32_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready;
    auto drop_source = [&](int32_t s, double bound) {
      unknown_left--;
      for (int32_t id : eqs_of(s)) {
        if (cnt[id] <= 0 || consumed[id]) continue;
        ebound[id] += bound;
        if (--cnt[id] == 1) ready.emplace(ebound[id], id);
      }
    };
    int64_t scan_from = 0;
    size_t active_from = 0;  // active[..active_from) are consumed or cnt < 2 for good
    while (unknown_left > 0) {
      while (!ready.empty()) {
        const int32_t id = ready.top().second;
        ready.pop();
        if (consumed[id] || cnt[id] != 1) continue;
        int32_t s = -1;
        for (int32_t n : Nbrs(id)) {
          if (!known[n] && in.state[n] == kUnknown) {
            s = n;
            break;
          }
        }
        consumed[id] = 1;
        in.state[s] = kResolved;
        in.slot[s] = static_cast<int32_t>(in.order.size());
        in.order.push_back(s);
        in.resolver.push_back(id);
        in.width.push_back(static_cast<int32_t>(in.inactive.size()));
        drop_source(s, ebound[id]);
      }
      if (unknown_left == 0) break;
      if (static_cast<int64_t>(in.inactive.size()) >= max_inactive_) {
        in.capped = true;
        return in;
      }
      int32_t best_eq = -1;
      while (active_from < active.size() &&
             (consumed[active[active_from]] || cnt[active[active_from]] < 2)) {
        ++active_from;  // counts only fall: once below 2, never useful again
      }
      for (size_t i = active_from; i < active.size(); ++i) {
        const int32_t id = active[i];
        if (consumed[id] || cnt[id] < 2) continue;
        if (best_eq < 0 || cnt[id] < cnt[best_eq]) best_eq = id;
        if (cnt[best_eq] == 2) break;
      }
      int32_t pick = -1;
      if (best_eq >= 0) {
        for (int32_t n : Nbrs(best_eq)) {
          if (known[n] || in.state[n] != kUnknown) continue;
          if (pick < 0 || eqs_of(n).size() > eqs_of(pick).size()) pick = n;
        }
      } else {  // no equation constrains the rest: rank deficiency follows
        while (known[scan_from] || in.state[scan_from] != kUnknown) ++scan_from;
        pick = static_cast<int32_t>(scan_from);
      }
      in.state[pick] = kInactive;
      in.slot[pick] = static_cast<int32_t>(in.inactive.size());
      in.inactive.push_back(pick);
      drop_source(pick, 1.0);
    }
    for (int32_t id : active)
      if (!consumed[id]) in.constraints.push_back(id);
    return in;
  }

  // Rank deficiency over GF(2) of the core M of `in` (0: full rank), with
  // coefficients as bitsets. known[s]: sources determined before the core.
  int64_t Gf2Deficiency(const Inactivation& in, const std::vector<uint8_t>& known) const {
    const int64_t ni = static_cast<int64_t>(in.inactive.size());
    const int64_t nc = static_cast<int64_t>(in.constraints.size());
    if (nc < ni) return ni - nc;
    if (ni == 0) return 0;
    const int64_t words = (ni + 63) / 64;
    std::vector<uint64_t> coef(in.order.size() * words, 0);
    auto row_into = [&](int32_t id, int32_t skip, uint64_t* acc) {
      for (int32_t n : Nbrs(id)) {
        if (known[n] || n == skip) continue;
        if (in.state[n] == kInactive) {
          acc[in.slot[n] / 64] ^= uint64_t{1} << (in.slot[n] % 64);
        } else {
          const uint64_t* c = coef.data() + in.slot[n] * words;
          const int64_t used_words = (in.width[in.slot[n]] + 63) / 64;
          for (int64_t w = 0; w < used_words; ++w) acc[w] ^= c[w];
        }
      }
    };
    for (size_t r = 0; r < in.order.size(); ++r) row_into(in.resolver[r], in.order[r], coef.data() + r * words);
    std::vector<uint64_t> m(nc * words, 0);
    for (int64_t r = 0; r < nc; ++r) row_into(in.constraints[r], -1, m.data() + r * words);
    return ni - Gf2Rank(std::move(m), nc, ni);
  }

  // Rank over GF(2) of an nc x ni bit matrix, rows of ceil(ni / 64) words.
  static int64_t Gf2Rank(std::vector<uint64_t> m, int64_t nc, int64_t ni) {
    const int64_t words = (ni + 63) / 64;
    int64_t rank = 0;
    for (int64_t col = 0; col < ni && rank < nc; ++col) {
      const uint64_t bit = uint64_t{1} << (col % 64);
      const int64_t w = col / 64;
      int64_t piv = -1;
      for (int64_t r = rank; r < nc; ++r) {
        if (m[r * words + w] & bit) {
          piv = r;
          break;
        }
      }
      if (piv < 0) continue;
      if (piv != rank) std::swap_ranges(m.begin() + piv * words, m.begin() + (piv + 1) * words, m.begin() + rank * words);
      for (int64_t r = 0; r < nc; ++r) {
        if (r != rank && (m[r * words + w] & bit)) {
          for (int64_t x = w; x < words; ++x) m[r * words + x] ^= m[rank * words + x];
        }
      }
      ++rank;
    }
    return rank;
  }

  // Rank deficiency over GF(2) of an integer core matrix (its entries mod 2).
  template <typename Derived>
  static int64_t Gf2Deficiency(const Eigen::MatrixBase<Derived>& core) {
    const int64_t nc = core.rows(), ni = core.cols();
    if (nc < ni) return ni - nc;
    const int64_t words = (ni + 63) / 64;
    std::vector<uint64_t> m(nc * words, 0);
    for (int64_t r = 0; r < nc; ++r)
      for (int64_t c = 0; c < ni; ++c)
        if (core(r, c) & 1) m[r * words + c / 64] |= uint64_t{1} << (c % 64);
    return ni - Gf2Rank(std::move(m), nc, ni);
  }

  // ---- 3. the real-valued plan -------------------------------------------------

  struct Plan {
    std::vector<std::pair<int32_t, int32_t>> peel;  // (equation, source), best-first
    std::vector<uint8_t> peeled;                     // per source
    Inactivation core;
    Eigen::HouseholderQR<MatrixD> qr;                // of M (constraints x inactives), full column rank
    std::vector<int32_t> redundant;                  // equations all of whose sources are known
  };

  // M (constraints x inactives): each constraint's coefficients over the
  // inactive sources once the resolved ones are substituted,
  // x_s = v_s + c_s . x. The coefficients are integers (sums of +-1 along
  // peeling chains), so T = int32_t adds them exactly -- with half the memory
  // traffic of double and twice its vector lanes in the hot loop -- as long
  // as no sum can overflow; every row checks that before it is summed (the
  // sum of its neighbours' largest |coefficient|) and false means "overflow
  // possible, use double" (long chains).
  template <typename T>
  using CoreOf = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  template <typename T>
  bool CoreMatrix(const std::vector<uint8_t>& peeled, const Inactivation& in, CoreOf<T>* out) const {
    const int64_t ni = static_cast<int64_t>(in.inactive.size());
    const int64_t nr = static_cast<int64_t>(in.order.size());
    const int64_t nc = static_cast<int64_t>(in.constraints.size());
    // c_s per resolved row. Row r holds its width[r] coefficients (the later
    // inactives' are zero), packed one after the other: about half of a
    // dense nr x ni matrix, and each row is zeroed just before it is summed
    // into (no up-front fill of the whole block, which at k = 10000 was
    // ~17 MB written and read back from memory).
    std::vector<int64_t> coef_at(nr + 1, 0);
    for (int64_t r = 0; r < nr; ++r) coef_at[r + 1] = coef_at[r] + in.width[r];
    std::unique_ptr<T[]> coef(new T[static_cast<size_t>(std::max<int64_t>(1, coef_at[nr]))]);
    constexpr bool kChecked = std::is_integral_v<T>;
    std::vector<int64_t> row_max(kChecked ? nr : 0);  // largest |coefficient| of each resolved row
    // Can summing the equation's residual rows overflow T?
    auto may_overflow = [&](int32_t id) {
      int64_t sum = 0;
      for (int32_t n : Nbrs(id)) {
        if (peeled[n]) continue;
        sum += in.state[n] == kInactive ? 1 : row_max[in.slot[n]];
      }
      return sum >= std::numeric_limits<T>::max();
    };
    // The hot loop of decoding (O(inactives x residual edges)): packed row
    // additions through Eigen maps. acc += sign * (sum over the equation's
    // other residual sources of their coefficient rows; an inactive source
    // is a unit vector).
    using Row = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;
    using ConstRow = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;
    auto row_into = [&](int32_t id, int32_t skip, T sign, T* acc) {
      for (int32_t n : Nbrs(id)) {
        if (peeled[n] || n == skip) continue;
        if (in.state[n] == kInactive) {
          acc[in.slot[n]] += sign;
          continue;
        }
        const int64_t w = in.width[in.slot[n]];
        Row a(acc, w);
        if (sign > 0) {
          a += ConstRow(coef.get() + coef_at[in.slot[n]], w);
        } else {
          a -= ConstRow(coef.get() + coef_at[in.slot[n]], w);
        }
      }
    };
    // Resolved s: x_s = y_e - sum of the others, so c_s = -sum of theirs (its
    // neighbours were resolved before it: their widths are <= its own).
    for (int64_t r = 0; r < nr; ++r) {
      if constexpr (kChecked) {
        if (may_overflow(in.resolver[r])) return false;
      }
      T* acc = coef.get() + coef_at[r];
      std::fill_n(acc, in.width[r], T{0});
      row_into(in.resolver[r], in.order[r], T{-1}, acc);
      if constexpr (kChecked) {
        row_max[r] = in.width[r] > 0 ? ConstRow(acc, in.width[r]).cwiseAbs().maxCoeff() : 0;
      }
    }
    // Every unused equation is a constraint: the surplus over ni makes
    // M x = rhs a least-squares fit, measurably better conditioned than a
    // square subset (the probe needed ~8% more symbols with ni + 25%).
    CoreOf<T>& m = *out;
    m.setZero(nc, ni);
    for (int64_t r = 0; r < nc; ++r) {
      if constexpr (kChecked) {
        if (may_overflow(in.constraints[r])) return false;
      }
      row_into(in.constraints[r], -1, T{1}, m.data() + r * ni);
    }
    return true;
  }

  // Builds the plan over every received equation. Returns how many more
  // symbols to wait for (the rank deficiency; 0: plan ready). Never fails:
  // DoAdd must not change state and then return an error.
  int64_t BuildPlan() {
    stats_.inactivations = 0;
    stats_.integer_core = false;
    const int64_t ne = NumEqs();
    // CSR adjacency: equations of each source.
    std::vector<int64_t> adj_begin(k_ + 1, 0);
    for (int32_t s : nbrs_) adj_begin[s + 1]++;
    for (int64_t s = 0; s < k_; ++s) adj_begin[s + 1] += adj_begin[s];
    std::vector<int32_t> adj_list(nbrs_.size());
    {
      std::vector<int64_t> fill(adj_begin.begin(), adj_begin.end() - 1);
      for (int32_t e = 0; e < ne; ++e)
        for (int32_t s : Nbrs(e)) adj_list[fill[s]++] = e;
    }
    auto eqs_of = [&](int32_t s) {
      return std::span<const int32_t>(adj_list.data() + adj_begin[s],
                                      static_cast<size_t>(adj_begin[s + 1] - adj_begin[s]));
    };

    Plan plan;
    plan.peeled.assign(k_, 0);
    std::vector<int32_t> rem(ne);
    std::vector<int64_t> idx_sum(ne, 0);
    std::vector<uint8_t> used(ne, 0);
    std::vector<double> bound(ne, 1.0);
    using Entry = std::pair<double, int32_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready;
    for (int32_t e = 0; e < ne; ++e) {
      rem[e] = static_cast<int32_t>(Nbrs(e).size());
      for (int32_t s : Nbrs(e)) idx_sum[e] += s;
      if (rem[e] == 1) ready.emplace(bound[e], e);
    }
    while (!ready.empty()) {
      const int32_t e = ready.top().second;
      ready.pop();
      if (used[e]) continue;
      used[e] = 1;
      const int32_t s = static_cast<int32_t>(idx_sum[e]);
      plan.peeled[s] = 1;
      plan.peel.emplace_back(e, s);
      for (int32_t e2 : eqs_of(s)) {
        if (used[e2]) continue;
        bound[e2] += bound[e];
        idx_sum[e2] -= s;
        if (--rem[e2] == 1) {
          ready.emplace(bound[e2], e2);
        } else if (rem[e2] == 0) {
          used[e2] = 1;
          plan.redundant.push_back(e2);
        }
      }
    }
    if (static_cast<int64_t>(plan.peel.size()) < k_) {
      std::vector<int32_t> cnt(ne, 0), active;
      for (int32_t e = 0; e < ne; ++e) {
        if (used[e]) continue;
        active.push_back(e);
        cnt[e] = rem[e];
      }
      plan.core = Inactivate(plan.peeled, std::move(cnt), active, eqs_of);
      if (plan.core.capped) return std::max<int64_t>(1, k_ / 100);  // core too large yet: wait ~1% of k
      Inactivation& in = plan.core;
      const int64_t ni = static_cast<int64_t>(in.inactive.size());
      if (const int64_t nc = static_cast<int64_t>(in.constraints.size()); nc < ni) return ni - nc;
      if (ni > 0) {
        // Full rank is checked over GF(2) (a 0/1 matrix of full rank mod 2
        // has an odd determinant, so full rank over the reals too): on the
        // exact integer core when it fits int32 (its entries mod 2), else on
        // bitsets before the double core is built.
        MatrixD m;
        if (CoreOf<int32_t> mi; lt_.params().integer_core && CoreMatrix<int32_t>(plan.peeled, in, &mi)) {
          if (const int64_t d = Gf2Deficiency(mi); d > 0) return d;
          m = mi.cast<double>();
          stats_.integer_core = true;
        } else {
          if (const int64_t d = Gf2Deficiency(in, plan.peeled); d > 0) return d;
          CoreOf<double> md;
          CoreMatrix<double>(plan.peeled, in, &md);
          m = std::move(md);
        }
        // Full column rank is settled (GF(2) above); how well conditioned M
        // is, the probe measures. Unpivoted (blocked) Householder: 2-3x faster
        // than column pivoting at this size.
        plan.qr.compute(m);
      }
      stats_.inactivations = ni;
    }
    plan_ = std::move(plan);
    return 0;
  }

  // Buffers of one ApplyPlan caller, reused from band to band: fresh ones
  // per band cost page faults (v alone is hundreds of KB at 64 rows per
  // symbol), a tenth of a training product's decode.
  struct ApplyScratch {
    std::vector<double> x;          // the source values: k_ x len
    std::vector<double> v, rhs, xi; // the core's: nr, nc and ni x len
  };

  // Source values (k_ x len, row-major, into scratch.x) from equation
  // values: equation e's are y[e * ld + 0 .. len). `y`: float (results) or
  // double (probe) values.
  template <typename T>
  void ApplyPlan(const T* y, int64_t ld, int64_t len, ApplyScratch& scratch) const {
    const Plan& p = plan_;
    std::vector<double>& x = scratch.x;
    x.assign(static_cast<size_t>(k_ * len), 0.0);
    // Peeled sources, in plan order: x_s = y_e - sum of its other neighbours.
    for (const auto& [e, s] : p.peel) {
      double* dst = x.data() + static_cast<int64_t>(s) * len;
      std::copy_n(y + e * ld, len, dst);
      for (int32_t n : Nbrs(e)) {
        if (n == s) continue;
        const double* src = x.data() + static_cast<int64_t>(n) * len;
        SubtractRow(dst, src, len);
      }
    }
    const Inactivation& in = p.core;
    const int64_t nr = static_cast<int64_t>(in.order.size());
    if (nr == 0 && in.inactive.empty()) return;
    const int64_t ni = static_cast<int64_t>(in.inactive.size());
    const int64_t nc = static_cast<int64_t>(in.constraints.size());
    // v_s for resolved sources: equation minus peeled and earlier resolved
    // neighbours (inactives excluded: they are the c_s . x part).
    scratch.v.resize(static_cast<size_t>(nr * len));
    Eigen::Map<MatrixD> v(scratch.v.data(), nr, len);
    auto reduced = [&](int32_t id, int32_t skip, double* out) {
      std::copy_n(y + id * ld, len, out);
      for (int32_t n : Nbrs(id)) {
        if (n == skip) continue;
        const double* src = nullptr;
        if (p.peeled[n]) {
          src = x.data() + static_cast<int64_t>(n) * len;
        } else if (in.state[n] == kResolved) {
          src = v.data() + static_cast<int64_t>(in.slot[n]) * len;
        } else {
          continue;
        }
        SubtractRow(out, src, len);
      }
    };
    for (int64_t r = 0; r < nr; ++r) reduced(in.resolver[r], in.order[r], v.data() + r * len);
    scratch.xi.resize(static_cast<size_t>(ni * len));
    Eigen::Map<MatrixD> xi(scratch.xi.data(), ni, len);
    if (ni > 0) {
      scratch.rhs.resize(static_cast<size_t>(nc * len));
      Eigen::Map<MatrixD> rhs(scratch.rhs.data(), nc, len);
      for (int64_t r = 0; r < nc; ++r) reduced(in.constraints[r], -1, rhs.data() + r * len);
      xi = p.qr.solve(rhs);
    }
    // With the inactive values known, every resolved source follows by
    // forward substitution along the plan: x_s = y_e - sum of the others.
    for (int64_t i = 0; i < ni; ++i) {
      Eigen::Map<Eigen::RowVectorXd>(x.data() + static_cast<int64_t>(in.inactive[i]) * len, len) = xi.row(i);
    }
    for (int64_t r = 0; r < nr; ++r) {
      const int32_t s = in.order[r];
      double* dst = x.data() + static_cast<int64_t>(s) * len;
      std::copy_n(y + in.resolver[r] * ld, len, dst);
      for (int32_t n : Nbrs(in.resolver[r])) {
        if (n == s) continue;
        const double* src = x.data() + static_cast<int64_t>(n) * len;
        SubtractRow(dst, src, len);
      }
    }
  }

  // ---- 4. accuracy -----------------------------------------------------------

  // Applies the plan to a random probe. Returns true (decodable) when it
  // amplifies the noise by at most params.max_error_amplification, else
  // schedules a retry.
  static constexpr int64_t kProbes = 4;

  bool AccurateEnough() {
    const double limit = lt_.params().max_error_amplification;
    waiting_for_accuracy_ = false;
    if (limit <= 0) return true;
    // kProbes columns: x uniform with unit variance per source; y_e = sum x +
    // noise of the size float32 rounding leaves in a worker's result
    // (2^-24 * |terms| ~ 2^-24 * sqrt(degree)). The worst column counts: one
    // sample can miss a badly conditioned corner. Probe values of equations
    // already seen are kept, so an attempt only pays for the new ones.
    if (probe_truth_.empty()) {
      Pcg32 rng(MixSeed(lt_.params().seed, 0x70726f6265), 1);  // "probe"
      probe_truth_.resize(k_ * kProbes);
      for (double& v : probe_truth_) v = rng.Uniform(-std::sqrt(3.0), std::sqrt(3.0));
      probe_rng_ = Pcg32(MixSeed(lt_.params().seed, 0x6e6f697365), 2);  // "noise"
    }
    for (int64_t e = static_cast<int64_t>(probe_y_.size()) / kProbes; e < NumEqs(); ++e) {
      double sum[kProbes] = {};
      for (int32_t s : Nbrs(e))
        for (int64_t c = 0; c < kProbes; ++c) sum[c] += probe_truth_[s * kProbes + c];
      const double scale = 0x1p-24 * std::sqrt(static_cast<double>(Nbrs(e).size()));
      for (int64_t c = 0; c < kProbes; ++c) probe_y_.push_back(sum[c] + scale * probe_rng_.Uniform(-std::sqrt(3.0), std::sqrt(3.0)));
    }
    const std::vector<double>& y = probe_y_;
    const std::vector<double>& truth = probe_truth_;
    ApplyScratch scratch;
    ApplyPlan(y.data(), kProbes, kProbes, scratch);
    const std::vector<double>& got = scratch.x;
    // Relative to the *expected* size of the truth (unit variance: k per
    // column), not the sample's: for tiny k a small sample would make the
    // ratio heavy-tailed, and a cached probe would then fail forever.
    double amplification = 0;
    for (int64_t c = 0; c < kProbes; ++c) {
      double num = 0;
      for (int64_t s = 0; s < k_; ++s) {
        const double d = got[s * kProbes + c] - truth[s * kProbes + c];
        num += d * d;
      }
      const double a = std::sqrt(num / static_cast<double>(k_)) / 0x1p-24;
      // A NaN or infinite probe (a numerically singular core) is the worst
      // case, not one std::max would skip.
      amplification = std::isfinite(a) ? std::max(amplification, a) : std::numeric_limits<double>::infinity();
    }
    stats_.estimated_amplification = amplification;
    if (amplification <= limit) return true;
    stats_.accuracy_waits++;
    waiting_for_accuracy_ = true;
    next_attempt_at_ = NumEqs() + std::max<int64_t>(1, k_ / 200);
    return false;
  }

  // Redundant equations (all sources known) measure the decode error for
  // free: per redundant equation, the largest |residual| and |value| over
  // the band's columns (y, x as in ApplyPlan) are folded into `res_max` and
  // `ref_max`.
  void RedundancyResidual(const float* y, int64_t ld, const double* x, int64_t w, std::vector<double>* res_max,
                          std::vector<double>* ref_max) const {
    std::vector<double> res(w);
    for (size_t i = 0; i < plan_.redundant.size(); ++i) {
      const int32_t e = plan_.redundant[i];
      std::copy_n(y + e * ld, w, res.data());
      for (int32_t n : Nbrs(e)) SubtractRow(res.data(), x + n * w, w);
      for (int64_t j = 0; j < w; ++j) {
        (*res_max)[i] = std::max((*res_max)[i], std::abs(res[j]));
        (*ref_max)[i] = std::max((*ref_max)[i], static_cast<double>(std::abs(y[e * ld + j])));
      }
    }
  }

  const LtCode& lt_;
  const int64_t k_;
  int64_t len_ = 0;
  int64_t max_inactive_ = 0;
  int64_t min_surplus_ = 0;     // params.elimination_surplus x k
  // Received equations: neighbours (CSR) and float values (len_ per equation).
  std::vector<int64_t> eq_begin_;
  std::vector<int32_t> nbrs_;
  std::vector<float> vals_;
  // Structural state.
  std::vector<uint8_t> decoded_;
  std::vector<std::vector<int32_t>> adj_;
  std::vector<int32_t> rem_;
  std::vector<int64_t> idx_sum_;
  std::vector<uint8_t> used_;
  std::vector<int32_t> ripple_;
  int64_t num_decoded_ = 0;
  int64_t active_ = 0;
  int64_t next_attempt_at_ = 0;
  bool waiting_for_accuracy_ = false;
  // Accuracy probe: random source values and the matching equation values.
  std::vector<double> probe_truth_, probe_y_;
  Pcg32 probe_rng_;
  // The plan of the last successful attempt.
  Plan plan_;
};

}  // namespace

double DefaultLtC(int64_t k) { return k <= 100 ? 0.1 : 0.03; }

absl::StatusOr<std::vector<double>> RobustSoliton(int64_t k, double c, double delta) {
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("LT needs k >= 1 source symbols, got ", k));
  if (!(c > 0.0) || !std::isfinite(c)) return absl::InvalidArgumentError(absl::StrCat("LT c must be > 0, got ", c));
  if (!(delta > 0.0 && delta < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("LT delta must be in (0, 1), got ", delta));
  }
  std::vector<double> p(static_cast<size_t>(k), 0.0);
  if (k == 1) {
    p[0] = 1.0;
    return p;
  }
  const double kd = static_cast<double>(k);
  // Ideal soliton rho plus the "robust" tau (Luby 2002, sec. 4):
  //   R = c ln(k/delta) sqrt(k), tau(d) = R/(d k) for d < k/R,
  //   tau(k/R) = R ln(R/delta) / k, then normalise.
  const double r = c * std::log(kd / delta) * std::sqrt(kd);
  const int64_t pivot = static_cast<int64_t>(std::clamp(std::floor(kd / r), 1.0, kd));  // clamp before the cast
  p[0] = 1.0 / kd;
  for (int64_t d = 2; d <= k; ++d) p[d - 1] = 1.0 / (static_cast<double>(d) * static_cast<double>(d - 1));
  for (int64_t d = 1; d < pivot; ++d) p[d - 1] += r / (static_cast<double>(d) * kd);
  if (r > delta) p[pivot - 1] += r * std::log(r / delta) / kd;
  double total = 0.0;
  for (double x : p) total += x;
  for (double& x : p) x /= total;
  return p;
}

LtCode::LtCode(SourceLayout layout, LtParams params, std::vector<double> degrees)
    : Code(layout), params_(params), degree_sampler_(degrees) {
  mean_degree_ = 0.0;
  for (size_t d = 0; d < degrees.size(); ++d) mean_degree_ += static_cast<double>(d + 1) * degrees[d];
}

absl::StatusOr<std::unique_ptr<LtCode>> LtCode::Create(int64_t rows, const LtParams& params) {
  ASSIGN_OR_RETURN(SourceLayout layout, SourceLayout::ForSymbolRows(rows, params.symbol_rows));
  if (params.symbols_per_task < 0) {
    return absl::InvalidArgumentError(absl::StrCat("LT symbols per task must be >= 0 (0 = auto), got ",
                                                   params.symbols_per_task));
  }
  // Below ~2 even an exact solve fails the probe (its own noise): the decoder
  // would wait forever.
  if (!(params.max_error_amplification == 0 || params.max_error_amplification >= 10)) {
    return absl::InvalidArgumentError(absl::StrCat("LT max error amplification must be 0 (no check) or >= 10, got ",
                                                   params.max_error_amplification));
  }
  if (params.max_inactivations < 0) {
    return absl::InvalidArgumentError(absl::StrCat("LT max inactivations must be >= 0 (0 = auto), got ",
                                                   params.max_inactivations));
  }
  if (params.decode_threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("LT decode threads must be >= 0 (0 = this machine's cores), got ", params.decode_threads));
  }
  if (!(params.elimination_surplus >= 0 && params.elimination_surplus <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("LT elimination surplus must be in [0, 1] (a fraction of k), got ",
                                                   params.elimination_surplus));
  }
  LtParams p = params;
  if (p.c == 0) p.c = DefaultLtC(layout.num_symbols);
  ASSIGN_OR_RETURN(std::vector<double> degrees, RobustSoliton(layout.num_symbols, p.c, p.delta));
  if (p.symbols_per_task == 0) p.symbols_per_task = std::max<int64_t>(1, (layout.num_symbols + 99) / 100);
  return std::unique_ptr<LtCode>(new LtCode(layout, p, std::move(degrees)));
}

std::string LtCode::name() const {
  return absl::StrCat("lt(k=", k(), ",c=", params_.c, ",delta=", params_.delta,
                      ",symbols/task=", params_.symbols_per_task, params_.elimination ? "" : ",peeling-only", ")");
}

CodedSymbol LtCode::Symbol(int64_t index) const {
  Pcg32 rng(MixSeed(params_.seed, static_cast<uint64_t>(index)), kLtStream);
  const int64_t degree = static_cast<int64_t>(degree_sampler_.Sample(rng)) + 1;
  const uint32_t k = static_cast<uint32_t>(this->k());
  CodedSymbol s;
  s.sources.reserve(degree);
  // Floyd's algorithm: a uniformly random d-subset of [0, k) in d draws
  // (j itself is never taken yet: every earlier pick is < j).
  if (degree <= 32) {
    for (uint32_t j = k - static_cast<uint32_t>(degree); j < k; ++j) {
      const int32_t t = static_cast<int32_t>(rng.UniformInt(j + 1));
      const bool taken = std::find(s.sources.begin(), s.sources.end(), t) != s.sources.end();
      const int32_t pick = taken ? static_cast<int32_t>(j) : t;
      // Insertion keeps the list sorted (d <= 32).
      s.sources.insert(std::upper_bound(s.sources.begin(), s.sources.end(), pick), pick);
    }
  } else {
    std::vector<uint64_t> chosen((k + 63) / 64, 0);
    for (uint32_t j = k - static_cast<uint32_t>(degree); j < k; ++j) {
      uint32_t t = rng.UniformInt(j + 1);
      if (chosen[t / 64] >> (t % 64) & 1) t = j;
      chosen[t / 64] |= uint64_t{1} << (t % 64);
    }
    for (uint32_t w = 0; w < chosen.size(); ++w) {
      for (uint64_t bits = chosen[w]; bits != 0; bits &= bits - 1) {
        s.sources.push_back(static_cast<int32_t>(w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits))));
      }
    }
  }
  s.coeffs.assign(s.sources.size(), 1.0);
  return s;
}

absl::Status LtCode::CheckTaskId(int64_t id) const {
  const int64_t spt = params_.symbols_per_task;
  if (id < 0 || id >= kMaxTaskSymbolIndex / spt) {
    return absl::OutOfRangeError(absl::StrCat("LT task ", id, " out of range [0, ", kMaxTaskSymbolIndex / spt, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskSpec> LtCode::Task(int64_t id) const {
  RETURN_IF_ERROR(CheckTaskId(id));
  const int64_t spt = params_.symbols_per_task;
  TaskSpec t;
  t.id = id;
  t.symbols.reserve(spt);
  for (int64_t i = 0; i < spt; ++i) t.symbols.push_back(Symbol(id * spt + i));
  return t;
}

absl::StatusOr<TaskSpec> LtCode::TaskOfSymbols(int64_t id, int64_t first_symbol, int64_t count) const {
  if (count < 1 || count > (int64_t{1} << 20) || first_symbol < 0 || first_symbol > kMaxTaskSymbolIndex - count) {
    return absl::InvalidArgumentError(
        absl::StrCat("LT task of ", count, " symbols from ", first_symbol, ": out of range"));
  }
  RETURN_IF_ERROR(CheckTaskId(id));
  TaskSpec t;
  t.id = id;
  t.symbols.reserve(count);
  for (int64_t i = 0; i < count; ++i) t.symbols.push_back(Symbol(first_symbol + i));
  return t;
}

std::unique_ptr<Decoder> LtCode::NewDecoder() const { return std::make_unique<LtDecoder>(*this); }

}  // namespace codedge
