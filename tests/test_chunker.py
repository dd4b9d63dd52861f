from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from companion.events import Clause, ReplyDelta, ReplyDone, Transcript
from companion.stages.chunker import ClauseChunker, clauses_of

from harness import of_type, run_stage_test


def test_first_clause_leaves_as_soon_as_it_is_complete() -> None:
    chunker = ClauseChunker()
    out = list(chunker.process(ReplyDelta("Good morning to you, ")))
    assert out == [ReplyDelta("Good morning to you, "), Clause("Good morning to you,")]
    # Later commas do not cut a short sentence: its intonation stays whole.
    assert of_type(chunker.process(ReplyDelta("how did you sleep, my friend")), Clause) == []
    assert of_type(chunker.process(ReplyDelta("?")), Clause) == []
    assert of_type(chunker.process(ReplyDelta(" Fine")), Clause) == [Clause("how did you sleep, my friend?")]


def test_sentence_end_waits_for_the_next_character() -> None:
    # "3." could be "3.5": only the following space proves the sentence ended.
    assert clauses_of(["It costs 3", ".", "5 kroner. Yes"]) == ["It costs 3.5 kroner.", "Yes"]


def test_text_without_sentence_end_is_flushed_when_generation_ends() -> None:
    out = run_stage_test(ClauseChunker(), [ReplyDelta("no full stop here"), ReplyDone()])
    assert out == [ReplyDelta("no full stop here"), Clause("no full stop here"), ReplyDone()]


def test_abbreviations_do_not_end_sentences() -> None:
    assert clauses_of(["Vi ses kl. 14 i morgen. Ha' en god dag."], ["kl."]) == [
        "Vi ses kl. 14 i morgen.",
        "Ha' en god dag.",
    ]


def test_other_events_pass_through_in_order() -> None:
    transcript = Transcript("hi", "en")
    out = run_stage_test(ClauseChunker(), [transcript, ReplyDelta("Hello. "), ReplyDone()])
    assert out == [transcript, ReplyDelta("Hello. "), Clause("Hello."), ReplyDone()]


def test_long_sentences_are_cut_at_a_comma_after_the_first_clause() -> None:
    long = "And then, " + "we walked along the harbour for a very long time, " * 3 + "until dark. "
    clauses = clauses_of([long])
    assert len(clauses) >= 3
    assert all(len(c) < 120 for c in clauses)


@given(st.lists(st.text(min_size=0, max_size=12), max_size=30))
def test_no_text_is_lost_or_invented_however_the_stream_is_split(pieces: list[str]) -> None:
    chunker = ClauseChunker(["kl."])
    events = [ReplyDelta(p) for p in pieces] + [ReplyDone()]
    out = [e for ev in events for e in chunker.process(ev)]
    spoken = "".join(c.text for c in out if isinstance(c, Clause))
    assert "".join(spoken.split()) == "".join("".join(pieces).split())
    assert isinstance(out[-1], ReplyDone)
