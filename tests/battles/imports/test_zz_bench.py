import resource, time, random
import pytest
from battles.imports.services import import_votes
from battles.models import Vote
pytestmark = pytest.mark.django_db

def test_million(tmp_path):
    path = tmp_path / "v.csv"
    rnd = random.Random(1)
    winners = ["model_a", "model_b", "tie", "tie (bothbad)"]
    with open(path, "w") as f:
        f.write("model_a,model_b,winner,timestamp,conversation\n")
        for i in range(1_000_000):
            a, b = rnd.sample(range(40), 2)
            ts = f"{1700000000 + i}" if i % 2 else ""
            f.write(f'm{a},m{b},{rnd.choice(winners)},{ts},"some, text"\n')
    print("size", path.stat().st_size)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.time()
    report = import_votes(path=path)
    print("time", time.time() - t, report.summary(), "rss KB", rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    assert Vote.objects.count() == 1_000_000
