from battles.core.integrity import find_identity_mentions, identity_terms, minimum_vote_ms


def test_configured_names_and_their_distinctive_parts_are_identity_terms():
    terms = identity_terms(["aurora-large", "acme/basalt-mini-2"])
    assert {"aurora-large", "aurora", "basalt-mini-2", "basalt"} <= terms
    assert "large" not in terms and "mini" not in terms


def test_self_naming_answers_are_found():
    terms = identity_terms(["aurora-large"])
    assert find_identity_mentions("As Claude, I think…", terms) == ["claude"]
    assert find_identity_mentions("I am Aurora, built for you.", terms) == ["aurora"]
    assert find_identity_mentions("Trained by OpenAI and not GPT-4o.", terms) == ["openai", "gpt-4o"]


def test_ordinary_words_are_not_identity_mentions():
    terms = identity_terms(["aurora-large", "cedar-chat", "drift-7b"])
    text = "Let's chat about a large migration; the 7b step drifts. Metadata and claudication."
    assert find_identity_mentions(text, terms) == []


def test_minimum_vote_time_grows_with_what_there_is_to_read():
    assert minimum_vote_ms([0, 0]) == 0
    assert minimum_vote_ms([1500, 1500]) > minimum_vote_ms([300, 1500]) > minimum_vote_ms([300, 300])
    # Skimming both at 100 characters a second: 1,000 + 500 characters take 15 s.
    assert minimum_vote_ms([1000, 500]) == 15_000


def test_an_answer_longer_than_two_screens_asks_no_more_time():
    assert minimum_vote_ms([3000, 3000]) == minimum_vote_ms([20_000, 9_000]) == 60_000


def test_a_reader_at_40_characters_a_second_of_the_longer_answer_is_never_too_fast():
    for shorter in range(0, 4001, 50):
        for longer in range(shorter, 4001, 50):
            careful_ms = 1000 * longer / 40
            assert minimum_vote_ms([shorter, longer]) <= careful_ms, (shorter, longer)
            assert minimum_vote_ms([longer, shorter]) <= careful_ms, (shorter, longer)


def test_a_vote_in_the_first_second_on_two_short_paragraphs_is_too_fast():
    assert minimum_vote_ms([250, 300]) > 1000


def test_the_trie_of_terms_finds_what_the_plain_alternation_finds():
    """The compiled trie (one branch tried per position) against the alternation of every term, longest first."""
    import random

    from battles.core.integrity import alternation_pattern, mention_pattern

    terms = identity_terms(["gpt-4o", "gpt-4", "gpt-4o-mini", "command r", "command r plus", "01.ai", "mistral.ai"])
    terms |= {"ab", "abc", "abcd", "a.b", "x-y"}
    plain, trie = alternation_pattern(terms), mention_pattern(frozenset(terms))
    rng = random.Random(7)
    pieces = [*terms, *(t.upper() for t in terms), " ", "-", ".", "_", "x", "é", "4", "\n", "ſ"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    texts += ["GPT-4o-mini and gpt-4 but not gpt-4ox", "command r plus, command r, command rx", "abcd abc ab a.b.c"]
    for text in texts:
        assert [m.group(1) for m in trie.finditer(text)] == [m.group(1) for m in plain.finditer(text)], text
    assert "gpt-4o-mini" in find_identity_mentions("Made by GPT-4o-mini.", terms)
