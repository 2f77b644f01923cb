import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsdesk.embedding import Embedder
from newsdesk.index.chunking import chunk_text
from newsdesk.index.text import normalise_text

from .support.samples import SAMPLES

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
sentences = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(words, min_size=0, max_size=30),
    st.sampled_from([".", "!", "?", "", " U.S.", '."']),
)
articles = st.builds(
    lambda paragraphs: "\n\n".join(" ".join(p) for p in paragraphs),
    st.lists(st.lists(sentences, max_size=6), max_size=8),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.one_of(articles, st.text(max_size=1500)), budget=st.integers(4, 64))
def test_chunks_are_exact_slices_within_budget(embedder: Embedder, raw: str, budget: int) -> None:
    text = normalise_text(raw)
    chunks = chunk_text(text, embedder, max_tokens=budget, overlap_sentences=1)
    for seq, chunk in enumerate(chunks):
        assert chunk.seq == seq
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.token_count <= budget
    # Chunks advance through the article and, together, leave no text out.
    starts = [c.char_start for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.char_start, chunk.char_end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_sample_article_chunks_do_not_split_the_us_sentence(embedder: Embedder) -> None:
    raw = (SAMPLES / "files" / "nato-no-fly-zone-stoltenberg.txt").read_text(encoding="utf-8")
    text = normalise_text(raw)
    chunks = chunk_text(text, embedder, max_tokens=60, overlap_sentences=1)
    assert len(chunks) > 3
    for chunk in chunks:
        assert not chunk.text.endswith("U.S.")
        assert not chunk.text.startswith("President Joe Biden")
    sentence = "Stoltenberg also recounted how U.S. President Joe Biden referred to Zelenskyy"
    assert any(sentence in chunk.text for chunk in chunks)


def test_overlap_repeats_the_last_sentence(embedder: Embedder) -> None:
    text = " ".join(f"Sentence number {i} says something about topic {i}." for i in range(30))
    chunks = chunk_text(text, embedder, max_tokens=40, overlap_sentences=1)
    assert len(chunks) > 2
    for first, second in itertools.pairwise(chunks):
        assert second.char_start < first.char_end  # they share a sentence
        assert text[second.char_start : first.char_end].endswith(".")


def test_an_over_long_sentence_is_cut_at_word_boundaries(embedder: Embedder) -> None:
    text = " ".join(["word"] * 500) + "."
    chunks = chunk_text(text, embedder, max_tokens=50, overlap_sentences=0)
    assert len(chunks) >= 10
    for chunk in chunks:
        assert chunk.token_count <= 50
        assert not chunk.text.startswith("ord")
