from engine.builders import BuilderError, BuilderFactory, ErrorInjector
from engine.personas import AFFINITY, PERSONA_IDS, SIGNALS
from engine.router import route, score
from engine.signals import extract_signals


def test_affinity_matrix_has_76_values() -> None:
    assert len(AFFINITY) == len(PERSONA_IDS) == 4
    assert all(len(row) == len(SIGNALS) == 19 for row in AFFINITY)
    assert sum(len(row) for row in AFFINITY) == 76


def test_signals_are_deterministic_scores_in_unit_range() -> None:
    text = "I feel stressed about my python code deadline tomorrow?"
    a, b = extract_signals(text), extract_signals(text)
    assert a == b and len(a) == 19
    assert all(0.0 <= v <= 1.0 for v in a)
    assert a[SIGNALS.index("question")] == 1.0


def test_router_picks_the_expected_persona() -> None:
    cases = {
        "How do I prepare for a job interview and get a promotion in my career?": "mentor",
        "I feel stressed and overwhelmed, no motivation to reach my goals": "coach",
        "My python code has a bug and the database query fails": "analyst",
        "Help me brainstorm ideas to write a poem and design a logo": "creative",
    }
    for text, persona in cases.items():
        decision = route(text)
        assert decision.persona == persona, text
        assert 0.25 <= decision.confidence <= 1.0


def test_router_is_argmax_of_affinity_dot_signals() -> None:
    text = "Explain these statistics and the trend in my chart"
    scores = score(extract_signals(text))
    assert route(text).persona == PERSONA_IDS[scores.index(max(scores))]


def test_empty_signal_message_is_routed_deterministically() -> None:
    assert route("hello").persona == route("hello").persona == "mentor"


def test_builders_one_per_persona_and_error_injection() -> None:
    injector = ErrorInjector(seed=1)
    factory = BuilderFactory(injector)
    prompts = {p: factory.for_persona(p).build("hi", {"tone": "direct"}, []) for p in PERSONA_IDS}
    assert len(set(prompts.values())) == 4
    assert all("Tone: direct" in p for p in prompts.values())
    injector.set_rate("coach", 1.0)
    try:
        factory.for_persona("coach").build("hi", {}, [])
        raise AssertionError("expected a builder error")
    except BuilderError:
        pass
    factory.for_persona("mentor").build("hi", {}, [])
