"""Synthetic poster datasets: poster-like JPEGs with realistic metadata, seeded.

Real poster collections cannot be shipped, so demos, tests and benchmarks use these. Each
poster is 500x750, 60-100 KB like a real one, made of a colour gradient, a few shapes, a
film-grain texture and a title band. Its colours follow its first genre (horror dark red,
science fiction neon blue, romance pink...), so image searches show real structure.

Metadata follows what MovieLens and TMDB look like: skewed genre frequencies with one to
three genres per movie, years from 1920 to 2025 leaning recent, ratings around 6.3. Each
movie also gets words: a story (overview, tagline, English and Korean keywords) drawn
independently of its genre, and for a third of the movies a Korean alternative title. The
words and the picture therefore carry different facts: the colours tell the genre, only
the words tell the story.
Rendering is vectorised numpy plus Pillow and spread over processes; the texture comes
from a few noise tiles made once per process, so one poster costs a few milliseconds.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from ingest.manifest import write_manifest
from postersearch.domain import Poster

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 500, 750
# Bump when rendering changes, so a cached set made by older code is regenerated.
SYNTH_VERSION = 2
_MARKER = "synth.json"
_CHUNK = 128
_TILE_MARGIN = 100

# TMDB's genre names with their approximate share of movies in "The Movies Dataset".
GENRE_WEIGHTS: dict[str, float] = {
    "Drama": 20265,
    "Comedy": 13182,
    "Thriller": 7624,
    "Romance": 6735,
    "Action": 6596,
    "Horror": 4673,
    "Crime": 4307,
    "Documentary": 3932,
    "Adventure": 3496,
    "Science Fiction": 3049,
    "Family": 2770,
    "Mystery": 2467,
    "Fantasy": 2313,
    "Animation": 1935,
    "Foreign": 1622,
    "Music": 1598,
    "History": 1398,
    "War": 1323,
    "Western": 1042,
    "TV Movie": 767,
}
GENRES = tuple(GENRE_WEIGHTS)

# (top colour, bottom colour, accent) per genre: what a viewer expects of its posters.
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "Drama": ((70, 80, 100), (20, 25, 35), (200, 180, 150)),
    "Comedy": ((255, 220, 60), (250, 140, 40), (30, 120, 220)),
    "Thriller": ((30, 40, 55), (5, 5, 10), (220, 220, 230)),
    "Romance": ((250, 170, 190), (180, 60, 100), (255, 240, 245)),
    "Action": ((240, 120, 20), (40, 20, 10), (255, 230, 120)),
    "Horror": ((110, 5, 10), (10, 0, 0), (230, 220, 200)),
    "Crime": ((25, 25, 30), (90, 80, 60), (200, 30, 30)),
    "Documentary": ((200, 200, 190), (120, 120, 110), (30, 30, 30)),
    "Adventure": ((90, 170, 220), (200, 150, 70), (250, 240, 200)),
    "Science Fiction": ((10, 20, 60), (0, 180, 220), (240, 60, 220)),
    "Family": ((130, 210, 250), (120, 220, 120), (255, 200, 40)),
    "Mystery": ((40, 30, 70), (10, 10, 25), (180, 200, 90)),
    "Fantasy": ((120, 60, 170), (20, 90, 80), (250, 220, 120)),
    "Animation": ((255, 120, 180), (80, 200, 255), (255, 255, 90)),
    "Foreign": ((170, 140, 100), (60, 50, 40), (240, 230, 210)),
    "Music": ((250, 40, 150), (30, 0, 60), (40, 240, 240)),
    "History": ((180, 150, 100), (70, 50, 30), (240, 220, 170)),
    "War": ((100, 100, 70), (40, 40, 30), (200, 60, 30)),
    "Western": ((240, 160, 80), (120, 60, 20), (60, 30, 10)),
    "TV Movie": ((150, 170, 200), (60, 70, 90), (250, 250, 250)),
}

_WORDS_A = (
    "The Last",
    "Dark",
    "Silent",
    "Midnight",
    "Broken",
    "Golden",
    "Lost",
    "Crimson",
    "Eternal",
    "Hidden",
    "Burning",
    "Frozen",
    "Wild",
    "Secret",
    "Neon",
    "Iron",
    "Little",
    "Final",
    "Deep",
    "Distant",
    "Red",
    "Blue",
    "Savage",
    "Quiet",
    "Electric",
)
_WORDS_B = (
    "Night",
    "City",
    "Heart",
    "River",
    "Shadow",
    "Kingdom",
    "Road",
    "Dream",
    "Storm",
    "Garden",
    "Signal",
    "Empire",
    "Summer",
    "Forest",
    "Machine",
    "Harbor",
    "Witness",
    "Frontier",
    "Echo",
    "Island",
    "Letter",
    "Planet",
    "House",
    "Game",
    "Song",
)
_WORDS_C = ("", "", "", " II", " Returns", " of Fire", " at Dawn", " Forever", " Rising", " 3")


def make_metadata(count: int, seed: int) -> list[tuple[str, str, tuple[str, ...], int, float]]:
    """Movie ids, titles, genres, years and ratings for count movies, vectorised.

    Returns:
        (movie_id, title, genres, year, rating) per movie.
    """
    rng = np.random.default_rng([seed, 1])
    weights = np.array(list(GENRE_WEIGHTS.values()), dtype=np.float64)
    weights /= weights.sum()
    n_genres = rng.choice([1, 2, 3], size=count, p=[0.45, 0.37, 0.18])
    # Genres drawn without replacement per movie, by weight: Gumbel top-k does it in one go.
    keys = np.log(weights)[None, :] - np.log(-np.log(rng.random((count, len(GENRES)))))
    order = np.argsort(-keys, axis=1)[:, :3]
    # Years lean recent like real catalogues: most films are from the last decades.
    years = (1920 + np.floor(rng.beta(3.2, 1.25, size=count) * 106)).astype(int)
    years = np.clip(years, 1920, 2025)
    ratings = np.clip(np.round(rng.normal(6.3, 1.1, size=count), 1), 0.0, 10.0)
    a = rng.integers(0, len(_WORDS_A), size=count)
    b = rng.integers(0, len(_WORDS_B), size=count)
    c = rng.integers(0, len(_WORDS_C), size=count)
    rows = []
    for i in range(count):
        genres = tuple(GENRES[g] for g in order[i, : n_genres[i]])
        title = f"{_WORDS_A[a[i]]} {_WORDS_B[b[i]]}{_WORDS_C[c[i]]}"
        rows.append((f"synth-{i:06d}", title, genres, int(years[i]), float(ratings[i])))
    return rows


@dataclass(frozen=True)
class Story:
    """One kind of plot: its words in the overview, tagline and keywords.

    Attributes:
        plot: The overview's first sentence, completed by a protagonist-free setting.
        tagline: The one-liner.
        keywords: English keywords.
        keywords_ko: Korean keywords.
        query: How a person might ask for such a story (English).
        query_ko: The same in Korean, particles attached.
    """

    plot: str
    tagline: str
    keywords: tuple[str, ...]
    keywords_ko: tuple[str, ...]
    query: str
    query_ko: str


STORIES: tuple[Story, ...] = (
    Story("A crew of thieves plans one last heist on a casino.", "Everyone has a price.",
          ("heist", "casino", "robbery", "thieves"), ("강도", "카지노"),
          "a heist in a casino", "카지노를 터는 강도"),
    Story("A lonely astronaut is stranded on a distant moon.", "No one hears you wait.",
          ("astronaut", "space", "stranded", "moon"), ("우주비행사", "우주"),
          "an astronaut stranded in space", "우주에 고립된 우주비행사"),
    Story("A family moves into a haunted house with a terrible past.", "Some doors stay shut.",
          ("haunted house", "ghost", "family"), ("유령", "흉가"),
          "a family in a haunted house with a ghost", "유령이 나오는 흉가"),
    Story("An aging boxer fights for one final title.", "One more round.",
          ("boxing", "boxer", "comeback"), ("권투", "복서"),
          "an old boxer's comeback fight", "권투 선수의 재기"),
    Story("A hacker uncovers a conspiracy in a city of neon signs and endless rain.",
          "The network never sleeps.", ("cyberpunk", "hacker", "neon", "conspiracy"),
          ("사이버펑크", "네온사인", "해커"), "a hacker in a cyberpunk city",
          "네온사인이 가득한 사이버펑크 도시의 해커"),
    Story("Two estranged sisters drive across the country.", "The long way home.",
          ("road trip", "sisters", "journey"), ("여행", "자매"),
          "sisters on a road trip", "자매의 여행"),
    Story("The crew of a damaged submarine races against time.", "Pressure rises.",
          ("submarine", "ocean", "crew", "survival"), ("잠수함", "바다"),
          "trapped in a submarine", "잠수함에 갇힌 승무원"),
    Story("A chaotic wedding weekend brings two families together.", "Say yes. Survive.",
          ("wedding", "marriage", "in-laws"), ("결혼식", "결혼"),
          "a chaotic wedding weekend", "엉망진창 결혼식"),
    Story("A weary detective hunts a serial killer through the winter.", "Every clue bleeds.",
          ("detective", "serial killer", "murder", "investigation"), ("형사", "살인"),
          "a detective hunting a serial killer", "연쇄 살인범을 쫓는 형사"),
    Story("A young shepherd befriends the last dragon.", "Fly together.",
          ("dragon", "friendship", "magic"), ("용", "마법"),
          "a boy and his dragon", "용과 친구가 된 소년"),
    Story("Survivors hide in a shopping mall during a zombie outbreak.", "Stay inside.",
          ("zombie", "outbreak", "survival"), ("좀비", "생존"),
          "survivors of a zombie outbreak", "좀비 사태의 생존자들"),
    Story("A disgraced chef opens a tiny restaurant by the sea.", "Taste a second chance.",
          ("chef", "cooking", "restaurant"), ("요리사", "요리"),
          "a chef opens a restaurant", "식당을 연 요리사"),
    Story("A fighter pilot is shot down behind enemy lines.", "Get home alive.",
          ("pilot", "world war", "escape"), ("조종사", "전쟁"),
          "a pilot shot down in the war", "전쟁 중 추락한 조종사"),
    Story("A physicist keeps reliving the same day.", "Again. And again.",
          ("time travel", "time loop", "physicist"), ("시간여행", "타임루프"),
          "stuck in a time loop", "타임루프에 갇힌 과학자"),
    Story("A deaf composer writes a final symphony.", "Listen with your heart.",
          ("composer", "symphony", "music"), ("작곡가", "음악"),
          "a composer's last symphony", "작곡가의 마지막 교향곡"),
    Story("An innocent man plans an escape from a desert prison.", "Freedom has a map.",
          ("prison", "escape", "innocence"), ("감옥", "탈옥"),
          "escape from prison", "감옥에서 탈옥"),
    Story("A household robot learns what it means to love.", "Made to serve. Built to feel.",
          ("robot", "artificial intelligence", "love"), ("로봇", "인공지능"),
          "a robot who learns to love", "사랑을 배우는 로봇"),
    Story("Climbers are trapped by a storm near the summit.", "The mountain decides.",
          ("mountain", "climbing", "blizzard"), ("등반", "산악"),
          "climbers trapped on a mountain", "산에서 조난당한 등반대"),
    Story("The son of a crime boss tries to leave the family business.", "Blood is binding.",
          ("gangster", "mafia", "crime boss"), ("조폭", "마피아"),
          "a mafia boss's son", "마피아 두목의 아들"),
    Story("A shy student enters a national dance competition.", "Find your rhythm.",
          ("dance", "competition", "student"), ("댄스", "춤"),
          "a dance competition", "춤 경연 대회에 나간 학생"),
    Story("Pirates search for a cursed treasure.", "X marks the curse.",
          ("pirates", "treasure", "curse"), ("해적", "보물"),
          "pirates hunting treasure", "보물을 찾는 해적"),
    Story("A small town fights back against an alien invasion.", "They picked the wrong town.",
          ("alien invasion", "aliens", "small town"), ("외계인", "침공"),
          "aliens invade a small town", "외계인의 침공"),
    Story("A young lawyer defends a client nobody believes.", "The truth needs a voice.",
          ("lawyer", "trial", "courtroom"), ("변호사", "재판"),
          "a lawyer in a courtroom trial", "재판을 맡은 변호사"),
    Story("A vampire falls for a nurse on the night shift.", "Love bites.",
          ("vampire", "nurse", "hospital"), ("뱀파이어", "간호사"),
          "a vampire in love with a nurse", "간호사와 사랑에 빠진 뱀파이어"),
)  # fmt: skip

_SETTINGS = (
    "Set in Seoul.", "Set in Paris.", "Set in Chicago.", "Set in Lagos.", "Set in Tokyo.",
    "Set in a small coastal town.", "Set in the near future.", "Set in the 1970s.",
    "Based on a true story.", "Told over a single night.", "Set in Mexico City.",
    "Set in a remote village.",
)  # fmt: skip

# Korean for the second title word, so some movies carry a Korean alternative title.
_WORDS_B_KO = dict(
    zip(
        _WORDS_B,
        (
            "밤",
            "도시",
            "심장",
            "강",
            "그림자",
            "왕국",
            "길",
            "꿈",
            "폭풍",
            "정원",
            "신호",
            "제국",
            "여름",
            "숲",
            "기계",
            "항구",
            "목격자",
            "국경",
            "메아리",
            "섬",
            "편지",
            "행성",
            "집",
            "게임",
            "노래",
        ),
        strict=True,
    )
)


@dataclass(frozen=True)
class MovieWords:
    """The words of one synthetic movie, with the story they were drawn from."""

    story: int
    overview: str
    tagline: str
    keywords: tuple[str, ...]
    alternative_titles: tuple[str, ...]


def make_words(titles: Sequence[str], seed: int) -> list[MovieWords]:
    """A story per movie (independent of its genre and so of its poster's colours), seeded.

    Args:
        titles: The movies' titles, for the Korean alternative titles.
        seed: The collection's seed.
    """
    rng = np.random.default_rng([seed, 4])
    count = len(titles)
    stories = rng.integers(0, len(STORIES), size=count)
    settings = rng.integers(0, len(_SETTINGS), size=count)
    korean = rng.random(size=count) < 1 / 3
    out = []
    for i, title in enumerate(titles):
        story = STORIES[int(stories[i])]
        second = next((w for w in _WORDS_B if f" {w}" in f" {title}"), None)
        alternative = (
            (f"{_WORDS_B_KO[second]}의 {story.keywords_ko[0]}",)
            if korean[i] and second is not None
            else ()
        )
        out.append(
            MovieWords(
                story=int(stories[i]),
                overview=f"{story.plot} {_SETTINGS[int(settings[i])]}",
                tagline=story.tagline,
                keywords=story.keywords + story.keywords_ko,
                alternative_titles=alternative,
            )
        )
    return out


@lru_cache(maxsize=4)
def _noise_tiles(seed: int) -> tuple[Image.Image, ...]:
    """Grain tiles larger than a poster, made once per process.

    Pixel values are the grain plus 128, to be added with ``ImageChops.add(offset=-128)``:
    Pillow's saturating add is several times faster than the same sum in numpy.
    """
    rng = np.random.default_rng([seed, 2])
    tiles = []
    h, w = HEIGHT + _TILE_MARGIN, WIDTH + _TILE_MARGIN
    for scale, amount in ((1, 8.0), (2, 9.0), (3, 8.0), (1, 6.0)):
        grain = rng.normal(0.0, 1.0, size=(h // scale + 1, w // scale + 1)).astype(np.float32)
        grain = np.repeat(np.repeat(grain, scale, axis=0), scale, axis=1)[:h, :w]
        # Coarse blotches under the grain, like paper or film texture.
        coarse = rng.normal(0.0, 1.0, size=(12, 9)).astype(np.float32)
        blotches = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC))
        tile = np.clip(128.0 + grain * amount + blotches * 12.0, 0, 255).astype(np.uint8)
        tiles.append(Image.fromarray(tile).convert("RGB"))
    return tuple(tiles)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _jitter(rng: np.random.Generator, colour: Sequence[int], amount: int) -> np.ndarray:
    return np.clip(np.asarray(colour) + rng.integers(-amount, amount + 1, size=3), 0, 255)


def _fit_font(
    draw: ImageDraw.ImageDraw, text: str, size: int, width: int
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    while size > 14 and draw.textlength(text, font=_font(size)) > width:
        size -= 4
    return _font(size)


def render_poster(movie: Poster, index: int, seed: int) -> bytes:
    """Renders one poster as JPEG bytes; the same arguments always give the same bytes."""
    rng = np.random.default_rng([seed, 3, index])
    first = movie.genres[0] if movie.genres else "Drama"
    second = movie.genres[1] if len(movie.genres) > 1 else first
    top, bottom, accent = PALETTES.get(first, PALETTES["Drama"])
    c1, c2 = _jitter(rng, top, 30), _jitter(rng, bottom, 30)
    t = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32) ** rng.uniform(0.6, 1.6)
    column = (c1[None, :] * (1 - t[:, None]) + c2[None, :] * t[:, None]).astype(np.uint8)
    # A one-pixel-wide gradient stretched by Pillow beats building the full array.
    image = Image.fromarray(column[:, None, :]).resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    acc = _rgb(_jitter(rng, accent, 40))
    acc2 = _rgb(_jitter(rng, PALETTES.get(second, PALETTES["Drama"])[2], 40))
    for _ in range(int(rng.integers(2, 6))):
        x, y = int(rng.integers(-80, WIDTH)), int(rng.integers(-80, HEIGHT - 200))
        w, h = int(rng.integers(40, 300)), int(rng.integers(40, 300))
        colour = acc if rng.random() < 0.6 else acc2
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        elif kind == 1:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        else:
            draw.polygon([(x, y + h), (x + w // 2, y), (x + w, y + h)], fill=colour)
    if rng.random() < 0.7:
        # A figure: most posters show a face or a person.
        cx, head = int(rng.integers(120, 380)), int(rng.integers(50, 90))
        top_y = int(rng.integers(180, 320))
        shade = _rgb(c2 * 0.35)
        neck = top_y + 2 * head
        draw.ellipse((cx - head, top_y, cx + head, neck), fill=shade)
        body = [
            (cx - 3 * head, HEIGHT),
            (cx - head, neck),
            (cx + head, neck),
            (cx + 3 * head, HEIGHT),
        ]
        draw.polygon(body, fill=shade)
    tiles = _noise_tiles(seed)
    tile = tiles[int(rng.integers(0, len(tiles)))]
    ox, oy = (int(v) for v in rng.integers(0, _TILE_MARGIN, size=2))
    grain = tile.crop((ox, oy, ox + WIDTH, oy + HEIGHT))
    image = ImageChops.add(image, grain, scale=1.0, offset=-128)
    draw = ImageDraw.Draw(image)
    band_top = int(HEIGHT * rng.uniform(0.78, 0.86))
    draw.rectangle((0, band_top, WIDTH, HEIGHT), fill=_rgb(c2 // 3))
    # Titles stay readable on the dark band whatever the genre's accent colour.
    if sum(acc) < 300:
        acc = (235, 232, 220)
    title = movie.title.upper()
    font = _fit_font(draw, title, int(rng.integers(34, 48)), WIDTH - 30)
    draw.text((WIDTH // 2, band_top + 12), title, fill=acc, font=font, anchor="mt")
    credits = f"{' / '.join(movie.genres).upper()}   {movie.year}"
    draw.text((WIDTH // 2, HEIGHT - 24), credits, fill=(200, 200, 200), font=_font(16), anchor="mb")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=int(rng.integers(82, 90)))
    return out.getvalue()


def _rgb(values: np.ndarray) -> tuple[int, int, int]:
    return (int(values[0]), int(values[1]), int(values[2]))


def _render_chunk(args: tuple[list[tuple[int, Poster, str]], int]) -> int:
    """Renders and writes a chunk of posters (in a worker process); returns bytes written."""
    items, seed = args
    written = 0
    for index, poster, path in items:
        target = Path(path)
        if target.exists():
            continue
        data = render_poster(poster, index, seed)
        # Renamed into place, so a killed generator never leaves a truncated poster.
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        written += len(data)
    return written


def _is_complete(out_dir: Path, count: int, seed: int, manifest: Path) -> bool:
    try:
        marker = json.loads((out_dir / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    expected = {"count": count, "seed": seed, "version": SYNTH_VERSION, "manifest": manifest.name}
    return bool(marker == expected and manifest.is_file())


def generate_synthetic(
    out_dir: Path,
    count: int,
    seed: int = 0,
    *,
    manifest_format: str = "jsonl",
    workers: int | None = None,
) -> Path:
    """Writes count synthetic posters under out_dir/posters and their manifest.

    The same count and seed always give the same posters and manifest. A folder already
    holding this exact set is returned as it is; an interrupted generation resumes,
    keeping the posters already written.

    Args:
        out_dir: Folder to write into; created if missing.
        count: Number of movies.
        seed: Seed of metadata and images.
        manifest_format: "jsonl" or "csv".
        workers: Rendering processes; defaults to the CPU count (1 for small sets).

    Returns:
        The manifest path (``out_dir/manifest.jsonl`` or ``.csv``).
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if manifest_format not in {"jsonl", "csv"}:
        raise ValueError(f"manifest format {manifest_format!r}: jsonl or csv")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / f"manifest.{manifest_format}"
    if _is_complete(out_dir, count, seed, manifest):
        return manifest
    (out_dir / _MARKER).unlink(missing_ok=True)
    posters_dir = out_dir / "posters"
    posters: list[Poster] = []
    jobs: list[tuple[int, Poster, str]] = []
    metadata = make_metadata(count, seed)
    words = make_words([row[1] for row in metadata], seed)
    for i, (movie_id, title, genres, year, rating) in enumerate(metadata):
        # A thousand files per folder keeps directory listings quick at 80,000 posters.
        path = posters_dir / f"{i // 1000:03d}" / f"{movie_id}.jpg"
        about = words[i]
        poster = Poster(
            movie_id,
            title,
            genres,
            year,
            rating,
            str(path),
            alternative_titles=about.alternative_titles,
            overview=about.overview,
            tagline=about.tagline,
            keywords=about.keywords,
        )
        posters.append(poster)
        jobs.append((i, poster, str(path)))
    for folder in {Path(path).parent for _, _, path in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    chunks = [(jobs[i : i + _CHUNK], seed) for i in range(0, len(jobs), _CHUNK)]
    n_workers = workers or (1 if count <= 2 * _CHUNK else os.cpu_count() or 1)
    if n_workers <= 1:
        for chunk in chunks:
            _render_chunk(chunk)
    else:
        # Spawned, not forked: the caller may hold threads (a loaded model, gRPC) that a
        # forked child would inherit in a broken state.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
            for done, _ in enumerate(pool.map(_render_chunk, chunks), start=1):
                if done % 50 == 0:
                    logger.info("%d/%d posters rendered", min(done * _CHUNK, count), count)
    write_manifest(manifest, posters, base_dir=out_dir)
    marker = {"count": count, "seed": seed, "version": SYNTH_VERSION, "manifest": manifest.name}
    (out_dir / _MARKER).write_text(json.dumps(marker))
    return manifest
