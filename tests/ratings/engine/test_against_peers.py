"""The same votes through independent implementations: arena-rank (LMArena's own package),
evalica and choix. Small vote sets keep arena-rank's JAX compilation time down."""

import math

import numpy as np
import pytest

from ratings.engine import OUTCOMES, bt, fit_bradley_terry, online_elo

from .factories import RATING_PER_LOGIT, log_columns, make_log, peer

ARENA_LABEL = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "both_bad"}


@pytest.fixture(scope="module")
def votes():
    return make_log(8, 3000, seed=21, tie_rate=0.3)


@pytest.fixture(scope="module")
def arena_rank_frame(votes):
    pd = peer("pandas")
    model_a, model_b, outcome = log_columns(votes)
    return pd.DataFrame({"model_a": model_a, "model_b": model_b, "winner": [ARENA_LABEL[o] for o in outcome]})


def arena_rank_board(frame, *, reweighted=False):
    peer("arena_rank")
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    dataset = PairDataset.from_pandas(frame, reweighted=reweighted)
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    result = model.compute_ratings_and_cis(dataset, ci_method="sandwich")
    return {
        name: (float(r), float(lo), float(hi))
        for name, r, lo, hi in zip(
            result["competitors"], result["ratings"], result["rating_lower"], result["rating_upper"]
        )
    }


@pytest.mark.parametrize("reweight", [False, True])
def test_ratings_and_sandwich_bounds_match_arena_rank(votes, arena_rank_frame, reweight):
    theirs = arena_rank_board(arena_rank_frame, reweighted=reweight)
    ours = fit_bradley_terry(votes.to_table(), ci="sandwich", reweight=reweight)
    assert {row.model for row in ours.rows} == set(theirs)
    for row in ours.rows:
        rating, lower, upper = theirs[row.model]
        assert row.rating == pytest.approx(rating, abs=0.5)
        assert row.lower == pytest.approx(lower, abs=2.0)
        assert row.upper == pytest.approx(upper, abs=2.0)


def test_bootstrap_rounds_match_arena_rank_fits_of_the_same_resamples(votes, arena_rank_frame):
    peer("arena_rank")
    import jax.numpy as jnp
    from arena_rank.models.bradley_terry import BradleyTerry, fit_single_bootstrap_sample
    from arena_rank.utils.data_utils import PairDataset

    dataset = PairDataset.from_pandas(arena_rank_frame)
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    counts = np.asarray(dataset.counts)
    rng = np.random.default_rng(7)
    table = votes.to_table()
    data = bt.PairData.from_table(table)
    beta_hat = bt.fit_pairs(data)
    index = {name: k for k, name in enumerate(table.models)}
    their_models = [index[name] for name in dataset.competitors]
    pair_position = {(int(i), int(j)): p for p, (i, j) in enumerate(zip(data.i, data.j))}
    pairs = np.asarray(dataset.pairs)
    outcomes = np.asarray(dataset.outcomes)
    rounds = 3
    draws = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=rounds)
    wins_i, wins_j, half = (np.zeros((rounds, len(data.i))) for _ in range(3))
    theirs = []
    for r in range(rounds):
        params = fit_single_bootstrap_sample(jnp.asarray(draws[r], dtype=jnp.float64), model, dataset)
        theirs.append(np.asarray(params["ratings"]))
        for (ca, cb), y, n in zip(pairs, outcomes, draws[r]):
            a, b = their_models[ca], their_models[cb]
            p = pair_position[(min(a, b), max(a, b))]
            if y == 0.5:
                half[r, p] += n
            elif (y == 1.0) == (a < b):
                wins_i[r, p] += n
            else:
                wins_j[r, p] += n
    ours = bt.fit_resamples(data, beta_hat, wins_i, wins_j, half)
    for r in range(rounds):
        their_ratings = np.asarray(theirs[r])[np.argsort(their_models)]
        their_ratings = (their_ratings - their_ratings.mean()) * RATING_PER_LOGIT
        assert np.allclose(ours[r] * RATING_PER_LOGIT, their_ratings, atol=0.5)


def evalica_winners(outcomes):
    evalica = peer("evalica")
    code = {"a": evalica.Winner.X, "b": evalica.Winner.Y, "tie": evalica.Winner.Draw, "both_bad": evalica.Winner.Draw}
    return [code[o] for o in outcomes]


def test_ratings_match_evalica_bradley_terry_with_ties_as_half_wins(votes):
    evalica = peer("evalica")
    model_a, model_b, outcome = log_columns(votes)
    result = evalica.bradley_terry(
        model_a, model_b, evalica_winners(outcome), tie_weight=0.5, tolerance=1e-12, limit=100_000
    )
    beta = np.log(result.scores.astype(float))
    theirs = 1000.0 + (beta - beta.mean()) * RATING_PER_LOGIT
    ours = fit_bradley_terry(votes.to_table(), ci="none")
    for row in ours.rows:
        assert row.rating == pytest.approx(theirs[row.model], abs=0.5)


def test_ratings_match_choix_on_votes_without_ties():
    choix = peer("choix")
    log = make_log(6, 2000, seed=5, tie_rate=0.0)
    assert not np.any(log.outcome >= 2)
    pairs = [(a, b) if o == 0 else (b, a) for a, b, o in zip(log.a.tolist(), log.b.tolist(), log.outcome.tolist())]
    params = choix.opt_pairwise(len(log.models), pairs, alpha=0.0, method="Newton-CG", tol=1e-12)
    theirs = 1000.0 + (params - params.mean()) * RATING_PER_LOGIT
    ours = fit_bradley_terry(log.to_table(), ci="none").by_model
    for k, name in enumerate(log.models):
        assert ours[name].rating == pytest.approx(theirs[k], abs=0.5)


def test_online_elo_matches_evalica_elo_in_vote_order(votes):
    evalica = peer("evalica")
    model_a, model_b, outcome = log_columns(votes)
    theirs = evalica.elo(model_a, model_b, evalica_winners(outcome), k=4.0, initial=1000.0, base=10.0, scale=400.0)
    ours = online_elo(zip(model_a, model_b, outcome), k=4.0)
    assert set(ours) == set(theirs.scores.index)
    for name, rating in ours.items():
        assert rating == pytest.approx(float(theirs.scores[name]), abs=1e-6)


def test_outcome_labels_used_here_are_the_engines():
    assert set(ARENA_LABEL) == set(OUTCOMES)
    assert math.isclose(RATING_PER_LOGIT, bt.RATING_PER_LOGIT)
