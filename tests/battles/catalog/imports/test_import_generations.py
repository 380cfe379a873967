"""import_generations: finding prompts and LLMs, idempotency, row-level reporting."""

import pytest

from battles.models import LLM, Generation, Prompt, PromptPool
from tests.battles.catalog.imports.helpers import jsonl, run, write
from tests.factories import make_generation, make_llm, make_pool, make_prompt

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool():
    pool = make_pool("main")
    prompt = make_prompt(pool, "What is the capital of France?")
    prompt.external_id = "p1"
    prompt.save()
    return pool


def test_answers_are_stored_as_done_imported_generations(tmp_path, pool):
    llm = make_llm("alpha")
    path = write(
        tmp_path,
        "g.jsonl",
        jsonl(
            {
                "prompt_id": "p1",
                "model": "alpha",
                "answer": "Paris.",
                "latency_ms": 812,
                "tokens_in": 9,
                "tokens_out": 3,
                "cost": 0.00012,
            },
        ),
    )
    code, out = run("import_generations", path)
    assert code == 0, out
    generation = Generation.objects.get()
    assert generation.llm_version == llm.current_version()
    assert (generation.status, generation.imported, generation.text) == ("done", True, "Paris.")
    assert (generation.latency_ms, generation.tokens_in, generation.tokens_out) == (812, 9, 3)
    assert str(generation.cost) == "0.00012000"


def test_importing_the_same_file_twice_creates_no_duplicates(tmp_path, pool):
    path = write(
        tmp_path,
        "g.jsonl",
        jsonl(
            {"prompt_id": "p1", "model": "alpha", "text": "Paris."},
            {"prompt": "What is the capital of France?", "model": "beta", "text": "Paris!"},
        ),
    )
    assert run("import_generations", path)[0] == 0
    code, out = run("import_generations", path)
    assert code == 0
    assert Generation.objects.count() == 2
    assert "0 imported, 2 duplicates" in out
    assert "line 1: duplicate, not stored ('alpha' already has an answer to this prompt (sample 0))" in out


def test_existing_answer_from_a_generation_job_is_a_duplicate(tmp_path, pool):
    llm = make_llm("alpha")
    make_generation(Prompt.objects.get(), llm)
    code, out = run(
        "import_generations",
        write(tmp_path, "g.jsonl", jsonl({"external_id": "p1", "model": "alpha", "response": "Paris."})),
    )
    assert code == 0 and "1 duplicate" in out
    assert Generation.objects.count() == 1


def test_unknown_model_creates_a_retired_imported_llm(tmp_path, pool):
    code, out = run(
        "import_generations",
        write(tmp_path, "g.jsonl", jsonl({"prompt_id": "p1", "model": "legacy-model", "answer": "Paris."})),
    )
    assert code == 0
    llm = LLM.objects.get(name="legacy-model")
    assert (llm.status, llm.imported, llm.base_url) == ("retired", True, "")
    assert Generation.objects.get().llm_version.llm == llm
    assert "created retired imported LLM 'legacy-model'" in out


def test_prompt_text_is_matched_after_normalisation(tmp_path, pool):
    run(
        "import_generations",
        write(
            tmp_path,
            "g.jsonl",
            jsonl({"prompt": "  what is the CAPITAL of France? ", "model": "alpha", "answer": "Paris."}),
        ),
    )
    assert Generation.objects.get().prompt.external_id == "p1"


def test_unknown_prompt_without_pool_is_a_bad_row(tmp_path, pool):
    code, out = run(
        "import_generations",
        write(
            tmp_path,
            "g.jsonl",
            jsonl(
                {"prompt": "A prompt nobody has", "model": "alpha", "answer": "x"},
                {"prompt_id": "nope", "model": "alpha", "answer": "y"},
            ),
        ),
    )
    assert code == 1
    assert "line 1: the prompt is not in any pool; name a pool to add it to with --pool" in out
    assert "line 2: no prompt with external id 'nope'" in out
    assert not Generation.objects.exists() and not LLM.objects.exists()


def test_unknown_prompt_is_added_to_the_named_pool(tmp_path, pool):
    code, out = run(
        "import_generations",
        write(
            tmp_path,
            "g.jsonl",
            jsonl(
                {"prompt": "Brand new prompt", "prompt_id": "n1", "model": "alpha", "answer": "x"},
                {"prompt": "Brand new prompt", "model": "beta", "answer": "y"},
            ),
        ),
        "--pool",
        "imported-pool",
    )
    assert code == 0, out
    prompt = PromptPool.objects.get(name="imported-pool").prompts.get()
    assert (prompt.text, prompt.external_id) == ("Brand new prompt", "n1")
    assert prompt.generations.count() == 2


def test_pool_option_scopes_the_lookup(tmp_path, pool):
    other = make_pool("other")
    make_prompt(other, "What is the capital of France?")
    path = write(tmp_path, "g.jsonl", jsonl({"prompt": "What is the capital of France?", "model": "a", "answer": "x"}))
    code, out = run("import_generations", path)
    assert code == 1 and "several pools (main, other); choose one with --pool" in out
    assert run("import_generations", path, "--pool", "other")[0] == 0
    assert Generation.objects.get().prompt.pool == other


def test_bad_rows_name_their_lines_and_block_the_import(tmp_path, pool):
    path = write(
        tmp_path,
        "g.jsonl",
        jsonl(
            {"prompt_id": "p1", "model": "alpha", "answer": "fine"},
            {"prompt_id": "p1", "model": "beta"},
            {"prompt_id": "p1", "answer": "x"},
            {"prompt_id": "p1", "model": "gamma", "answer": "x", "latency_ms": -5},
            {"prompt_id": "p1", "model": "delta", "answer": "x", "latency": 5},
            {"text": "ambiguous", "model": "m"},
            "{oops",
            {"prompt_id": "p1", "model": "alpha", "answer": "again"},
        ),
    )
    code, out = run("import_generations", path)
    assert code == 1
    assert "line 2: missing the answer: give 'answer' or 'response'" in out
    assert "line 3: missing key 'model'" in out
    assert "line 4: latency_ms must be between 0 and 2,147,483,647" in out
    assert "line 5: unknown key(s) 'latency'" in out
    assert "line 6: 'text' alone is ambiguous" in out
    assert "line 7: invalid JSON" in out
    assert "line 8: duplicate, not stored (same prompt, model and sample as line 1)" in out
    assert not Generation.objects.exists()
    code, out = run("import_generations", path, "--valid-only")
    assert code == 0
    assert Generation.objects.get().text == "fine"


def test_samples_are_distinct_generations(tmp_path, pool):
    run(
        "import_generations",
        write(
            tmp_path,
            "g.jsonl",
            jsonl(
                {"prompt_id": "p1", "model": "alpha", "answer": "one", "sample": 0},
                {"prompt_id": "p1", "model": "alpha", "answer": "two", "sample": 1},
            ),
        ),
    )
    assert sorted(Generation.objects.values_list("sample", "text")) == [(0, "one"), (1, "two")]


def test_csv_given_to_import_generations_is_refused(tmp_path):
    code, out = run("import_generations", write(tmp_path, "g.csv", "prompt,model,answer\na,b,c\n"))
    assert code == 1 and "line 1: this is not JSON Lines" in out


def test_demo_answer_format_is_accepted(tmp_path, pool):
    code, out = run(
        "import_generations",
        write(
            tmp_path,
            "g.jsonl",
            jsonl({"model": "aurora", "prompt": "What is the capital of France?", "text": "Paris."}),
        ),
    )
    assert code == 0, out
    assert Generation.objects.get().text == "Paris."
