/* gridmap offline search: the server's lookup (gridmap/lookup/) for room numbers, names,
 * doors, points of interest and grid cells, over the package's gazetteer, with no server.
 *
 * It mirrors the server's reading of those kinds: the same cleaning (folded case and accents,
 * quotes, trailing punctuation, question words, abbreviations, spoken numbers, digits said one
 * by one), the same filler words, the same room-number shapes and scores (exact 100, a
 * building prefix 97, zeros dropped 88, "12" for B-12 85/80, "214" for 214A 82, look-alike
 * characters 2 less), doors by number, point kinds by their words (a set answer), names as
 * the server folds them (with its spoken room words: "gym" -> "gymnasium"), the one name
 * holding every word said (93), restrooms by whom they serve, hallways, grid cells and keypad
 * sub-cells, a floor said ("214 upstairs", "restroom 2nd floor"), the server's settling (a
 * room beats a point of interest inside it, its own building and a grid cell spelled alike)
 * and its ranking (score, then building letter, level, room number, label). The word lists
 * and floor patterns come from the server's own vocabulary, in the package's data. Not
 * mirrored: typo-tolerant names, coordinates and USNG, and "near"/"closest" phrasings; those
 * are not found here and need the server.
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.GridmapSearch = factory();
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const EXACT = 100;
  const FOUND_THRESHOLD = 90;
  const QUALIFIED_NAME_SCORE = 92;
  const UNIQUE_WORD_SCORE = 93;
  const LOOSE_NUMBER_SCORE = 88;
  const MAX_QUERY_LENGTH = 200;

  const FILLER = /\b(?:the|at|in|by|near|next to|outside|inside|of|please|um|uh|on|to|its|it's|is|are|they're|theyre|he's|she's|we're|were|was|there|caller|says|said|located|somewhere|area|around)\b/g;
  const ROOM = /^(?:(?:room|rm|classroom|class|suite|office|number|no|nr|raum|zimmer|salle|sala|aula|lokaal)(?:\b|(?=\d))\.?|#)\s*(?:#|no\b\.?|number\b)?\s*(.+)$/;
  const NUMBER_SHAPE = /^([a-z]{1,3})?\s*[-.]?\s*(\d{1,5})\s*[-.]?\s*([a-z]{1,3})?$/;
  const DOOR_WORD = '(?:door|dr\\.?|entrance|entry|exit|gate|tur|tuer|porte|eingang|ausgang|entree|sortie|puerta|deur|ingang)';
  const DOOR = new RegExp('^(?:ext(?:erior)?\\.?\\s+|outside\\s+)?' + DOOR_WORD +
                          '\\s*(?:#|no\\.?|nr\\.?|number)?\\s*(\\d+[a-z]?)$');
  const NUMBERED_DOOR = new RegExp('\\b' + DOOR_WORD + '\\s*(?:#|no\\.?|nr\\.?|number)?\\s*\\d');
  const MAIN_ENTRANCE = /^(?:(?:main|front)\s+(?:entrance|entry|door|doors|entrances)|haupteingang|entree principale|porte principale|entrada principal)$/;
  const BUILDING = /(?:^|\s)(?:building|bldg\.?|bld|block|wing)\s+([\w-]+)(?:\s|$)/;
  const BUILDING_WORD = /^(?:building|bldg\.?|bld)\s+|\s+(?:building|bldg\.?|bld)$/;
  const IN_BUILDING = /^(.+?)\s+(?:in|at|inside|outside|by|near|of|on|to|for)\s+(?:the\s+)?(.+)$/;
  const CELL = /^((?:grid|cell|grid cell|map grid|grid square|raster|planquadrat|quadrat|rasterfeld|grille|case|carreau|cellule)\s+)?([a-z]{1,2})\s*(\d{1,3})(?:\s*-\s*([1-9])|\s+([1-9]))?$/;
  const FLAG_ALSO_CELL = 'also a grid cell';
  const FLAG_ALSO_ROOM = 'also a room number, written without its zeros or letters';
  const ALTERNATIVE_SCORE = 60;
  const OFF_FLOOR_SCORE = 70;
  const FLAG_OFF_FLOOR = 'not on the floor the caller said';
  const FLAG_GENDER_UNKNOWN = 'restroom gender not marked on the map';
  const CELL_SAID = /^(?:grid|cell|grid cell|map grid|grid square|raster|planquadrat|quadrat|rasterfeld|grille|case|carreau|cellule)\s+/;
  const QUESTION = /^(?:(?:can|could)\s+you\s+)?(?:where(?:'s|s| is| are| was)?|what(?:'s| is)|find|show(?:\s+me)?|locate|get\s+me|i\s+need|we\s+need|need|how\s+do\s+(?:i|we)\s+get\s+to|go\s+to|send\s+(?:them|units?)\s+to)\s+/;
  const SPLIT_NAME = /\s+\/\s+|\s*;\s*|\n/;
  const ROOM_WORDS_SAID = new Set(['room', 'rm', 'classroom', 'number', 'no', '#', 'suite', 'nr',
    'raum', 'zimmer', 'salle', 'sala', 'aula', 'lokaal']);

  // spoken numbers (gridmap/vocabulary.py: spoken_numbers)
  const DIGIT_WORDS = {zero: 0, oh: 0, o: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6,
    seven: 7, eight: 8, nine: 9};
  const TEEN_WORDS = {ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15,
    sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19};
  const TENS_WORDS = {twenty: 20, thirty: 30, forty: 40, fourty: 40, fifty: 50, sixty: 60,
    seventy: 70, eighty: 80, ninety: 90};
  const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  const isNumberWord = (w) => has(DIGIT_WORDS, w) || has(TEEN_WORDS, w) || has(TENS_WORDS, w) ||
    w === 'hundred' || w === 'double';
  const NUMBERED_THINGS = new Set(['room', 'rm', 'door', 'exit', 'entrance', 'stair', 'stairs',
    'stairwell', 'number', 'no', 'suite', 'classroom', 'gate', 'floor', 'level', 'portable',
    'lab', 'wing', 'building', '#']);

  function fold(text) {
    return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/ß/g, 'ss');
  }

  function spokenRun(words) {
    let out = '';
    let i = 0;
    while (i < words.length) {
      const w = words[i];
      const nxt = i + 1 < words.length ? words[i + 1] : '';
      if (w === 'double' && has(DIGIT_WORDS, nxt)) {
        out += String(DIGIT_WORDS[nxt]).repeat(2);
        i += 2;
      } else if (has(DIGIT_WORDS, w) && nxt === 'hundred') {
        let rest = 0;
        let j = i + 2;
        if (j < words.length && words[j] === 'and') j += 1;
        if (j < words.length && has(TEEN_WORDS, words[j])) {
          rest = TEEN_WORDS[words[j]];
          j += 1;
        } else if (j < words.length && has(TENS_WORDS, words[j])) {
          rest = TENS_WORDS[words[j]];
          j += 1;
          if (j < words.length && has(DIGIT_WORDS, words[j]) && words[j] !== 'oh' && words[j] !== 'o') {
            rest += DIGIT_WORDS[words[j]];
            j += 1;
          }
        } else if (j < words.length && has(DIGIT_WORDS, words[j]) && words[j] !== 'oh' && words[j] !== 'o') {
          rest = DIGIT_WORDS[words[j]];
          j += 1;
        }
        out += String(DIGIT_WORDS[w] * 100 + rest);
        i = j;
      } else if (has(TEEN_WORDS, w)) {
        out += String(TEEN_WORDS[w]);
        i += 1;
      } else if (has(TENS_WORDS, w)) {
        let value = TENS_WORDS[w];
        if (has(DIGIT_WORDS, nxt) && nxt !== 'oh' && nxt !== 'o' && nxt !== 'zero') {
          value += DIGIT_WORDS[nxt];
          i += 1;
        }
        out += String(value);
        i += 1;
      } else if (has(DIGIT_WORDS, w)) {
        out += String(DIGIT_WORDS[w]);
        i += 1;
      } else {
        return null;
      }
    }
    return out || null;
  }

  function spokenNumbers(text) {
    const words = text.split(' ').map((w) => {
      const p = w.split('-');
      return p.length > 1 && p.every(isNumberWord) ? p.join(' ') : w;
    }).join(' ').split(' ');
    const out = [];
    let i = 0;
    while (i < words.length) {
      let j = i;
      while (j < words.length && (isNumberWord(words[j]) ||
             (words[j] === 'and' && j > i && j + 1 < words.length && words[j - 1] === 'hundred'))) {
        j += 1;
      }
      const run = words.slice(i, j);
      const real = run.filter((w) => !['o', 'oh', 'and', 'double'].includes(w));
      const last = out.length ? out[out.length - 1] : null;
      const afterThing = last !== null && (NUMBERED_THINGS.has(last) ||
        (last.length === 1 && /[a-z]/.test(last) && !['a', 'o', 'i'].includes(last)));
      const digits = run.length && real.length && (run.length >= 2 || afterThing) ? spokenRun(run) : null;
      if (digits !== null) {
        out.push(digits);
        i = j;
      } else {
        out.push(words[i]);
        i += 1;
      }
    }
    return out.join(' ');
  }

  function expandAbbreviations(text, abbreviations) {
    const out = [];
    let joined = false;
    for (const w of text.split(' ')) {
      const single = w.length === 1 && /\d/.test(w);
      const last = out.length ? out[out.length - 1] : '';
      if (single && out.length && (joined || (last.length === 1 && /\d/.test(last)))) {
        out[out.length - 1] += w;
        joined = true;
      } else {
        out.push(has(abbreviations, w) ? abbreviations[w] : w);
        joined = false;
      }
    }
    return out.join(' ');
  }

  function clean(query, abbreviations) {
    let q = fold(query.trim());
    q = q.replace(/[’`]/g, "'");
    q = q.replace(/^["'([]+|["')\]]+$/g, '');
    q = q.replace(/[?!.,;:]+$/, '');
    q = q.replace(/(?<=\w)[,;:!?](?=\s|$)/g, '');
    q = q.replace(/\s+/g, ' ').trim();
    q = q.replace(QUESTION, '') || q;
    return expandAbbreviations(spokenNumbers(q), abbreviations);
  }

  function withoutFiller(q) {
    const stripped = q.replace(FILLER, ' ').replace(/\s+/g, ' ').trim();
    return stripped || q;
  }

  /** How names compare (the server's _key): folded, apostrophes dropped, other punctuation as
   * spaces; runs of spaces are one here, so "knox box main entrance" finds "Knox Box - Main
   * Entrance" too. */
  function key(text) {
    return fold(text).replace(/'/g, '').replace(/[^\p{L}\p{N}]/gu, ' ').replace(/\s+/g, ' ').trim();
  }

  function normaliseNumber(text) {
    return text.replace(/[\s.\-_/]/g, '').toUpperCase();
  }

  function looseNumber(text) {
    const m = NUMBER_SHAPE.exec(text.trim().toLowerCase());
    if (!m) return null;
    return ((m[1] || '') + String(parseInt(m[2], 10)) + (m[3] || '')).toUpperCase();
  }

  function lookalikeDigits(token) {
    const m = /^([a-z]{0,3}?[-\s]?)([0-9oli|]*\d[0-9oli|]*)([a-z]{0,3})$/i.exec(token);
    if (!m) return null;
    const fixed = m[2].replace(/[oO]/g, '0').replace(/[lIi|]/g, '1');
    return fixed === m[2] ? null : m[1] + fixed + m[3];
  }

  function nameParts(name) {
    const parts = [name.trim()];
    const pieces = name.split(SPLIT_NAME).map((p) => p.trim()).filter(Boolean);
    if (pieces.length > 1) parts.push(...pieces);
    return [...new Set(parts)].filter(Boolean);
  }

  function push(map, k, v) {
    if (!map.has(k)) map.set(k, []);
    map.get(k).push(v);
  }

  function create(data) {
    const vocabulary = data.vocabulary;
    const abbreviations = vocabulary.abbreviations;
    const places = data.places;
    const byId = new Map(places.map((p) => [p.id, p]));
    const buildingsByShort = new Map(places.filter((p) => p.type === 'building').map((p) => [p.building, p]));
    const units = places.filter((p) => p.type === 'unit');
    const doors = places.filter((p) => p.type === 'opening');
    const amenities = places.filter((p) => p.type === 'amenity');
    const byNumber = new Map();
    const byLoose = new Map();
    for (const u of units) {
      if (!u.number) continue;
      push(byNumber, normaliseNumber(u.number), u);
      const loose = looseNumber(u.number);
      if (loose) push(byLoose, loose, u);
    }
    const byStem = new Map();
    const byTail = new Map();
    for (const [number, list] of byLoose) {
      let m = /^(.*\d)[A-Z]{1,3}$/.exec(number);
      if (m) push(byStem, m[1], [number, list]);
      m = /^[A-Z]{1,3}(\d.*)$/.exec(number);
      if (m) push(byTail, m[1], [number, list]);
    }
    // building words, cleaned as the server cleans them; "building c" too
    const buildingsByWord = new Map();
    for (const [word, short] of Object.entries(data.buildings)) {
      const k = clean(word, abbreviations);
      if (!k) continue;
      if (!buildingsByWord.has(k)) buildingsByWord.set(k, short);
      if (!buildingsByWord.has('building ' + k)) buildingsByWord.set('building ' + k, short);
    }
    const buildingPhrases = [...buildingsByWord.keys()]
      .filter((w) => w.length > 1 && !w.startsWith('building '))
      .sort((a, b) => b.length - a.length);
    const exactNames = new Map();
    for (const p of places) {
      if (p.type === 'building' || p.type === 'opening') continue;
      for (const name of p.names) {
        for (const part of nameParts(name)) push(exactNames, key(part), p);
      }
    }
    const roomWords = vocabulary.room_words;
    const phraseWords = Object.keys(roomWords).filter((w) => w.includes(' '));
    const amenityWords = vocabulary.amenity_words;
    const escape = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const restroomRe = new RegExp('\\b(?:' + vocabulary.restroom_words.map(escape).join('|') + ')\\b');
    const genderRes = vocabulary.gender_words.map(([words, gender]) =>
      [new RegExp('\\b(?:' + words + ')(?=\\s|$|[^a-z])'), gender]);
    const restrooms = units.filter((u) => u.restroom);
    const restroomIds = new Set(restrooms.map((u) => u.id));
    const isRestroomPhrase = (text) => restroomRe.test(fold(text));
    function restroomGender(text) {
      const folded = fold(text);
      if (folded.includes('ladies room')) return 'female';
      for (const [re, gender] of genderRes) if (re.test(folded)) return gender;
      return null;
    }

    function roomNameVariants(text) {
      const k = text.trim().toLowerCase().replace(/'/g, '').replace(/\s+/g, ' ');
      const variants = [k, ...(has(roomWords, k) ? roomWords[k] : [])];
      for (const word of phraseWords) {
        const re = new RegExp('\\b' + word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\\b');
        if (word !== k && re.test(k)) {
          for (const other of roomWords[word]) variants.push(k.replace(re, other));
        }
      }
      return [...new Set(variants)];
    }

    function candidate(place, score) {
      return {score, place};
    }

    function addUnit(hits, place, score, match, flags) {
      const prev = hits.units.get(place.id);
      if (!prev || prev.score < score) {
        hits.units.set(place.id, {score, place, match: match || 'name', flags: flags || []});
      }
    }

    // grid cells and keypad sub-cells ("C4", "grid C4", "C4-7"), as the server reads them
    const grid = data.grid;
    function corner(column, row) {
      return grid.corners[row * (grid.columns.length + 1) + column];
    }
    function at(column, row, fx, fy) {
      // a point inside cell (column, row): fx from its west edge, fy from its north edge (0..1)
      const [nw, ne, sw, se] = [corner(column, row), corner(column + 1, row),
        corner(column, row + 1), corner(column + 1, row + 1)];
      const mix = (i) => (nw[i] * (1 - fx) + ne[i] * fx) * (1 - fy) + (sw[i] * (1 - fx) + se[i] * fx) * fy;
      return [mix(0), mix(1)];
    }
    function cellHits(q, hits) {
      const m = CELL.exec(q);
      if (!m || !grid) return;
      const keypad = m[4] || m[5];
      const row = parseInt(m[3], 10) - 1;
      const letters = m[2].toUpperCase();
      const label = letters + String(row + 1) + (keypad ? '-' + keypad : '');
      const explicit = Boolean(m[1] || keypad);
      if (m[3] !== String(row + 1) && !explicit) return; // "A015" is a room, never a cell
      const column = grid.columns.indexOf(letters);
      if (column < 0 || row < 0 || row >= grid.rows) return;
      const [x0, y0, side] = keypad ? [((keypad - 1) % 3) / 3, Math.floor((keypad - 1) / 3) / 3, 1 / 3] : [0, 0, 1];
      const outline = [[0, 0], [1, 0], [1, 1], [0, 1]].map(([fx, fy]) =>
        at(column, row, x0 + fx * side, y0 + fy * side));
      const [lon, lat] = at(column, row, x0 + side / 2, y0 + side / 2);
      if (explicit) hits.explicitCell = true;
      hits.others.push({score: EXACT, kind: 'cell', place: {id: null, type: 'cell', building: '',
        ordinal: null, number: null, label: 'Grid cell ' + label, cell: label.split('-')[0],
        subcell: keypad ? label : null, lon, lat, outline: outline.map(([x, y]) => [y, x])}});
    }

    function numberHits(text, building, saidRoom, hits, penalty) {
      const shape = NUMBER_SHAPE.exec(text);
      if (!shape) return;
      const pre = (shape[1] || '').toUpperCase();
      const digits = shape[2];
      const suf = (shape[3] || '').toUpperCase();
      const add = (u, score) => {
        if (building === null || u.building === building) addUnit(hits, u, score - penalty, 'number');
      };
      const k = normaliseNumber(text);
      const exact = (byNumber.get(k) || []).filter((u) => building === null || u.building === building);
      for (const u of exact) add(u, EXACT);
      const loose = looseNumber(text) || k;
      if (!exact.length) {
        for (const u of byLoose.get(loose) || []) add(u, LOOSE_NUMBER_SCORE);
      }
      if (!suf) {
        for (const [, list] of byStem.get(loose) || []) for (const u of list) add(u, 82);
      } else {
        for (const u of byLoose.get(loose.slice(0, -suf.length)) || []) add(u, 75);
      }
      const bare = String(parseInt(digits, 10)) + suf;
      if (pre) {
        const b = buildingsByWord.get(pre.toLowerCase());
        for (const u of byLoose.get(bare) || []) {
          if (b !== undefined && u.building === b) add(u, 97);
          else if (!exact.length) add(u, 70);
        }
      } else {
        for (const [number, list] of byTail.get(bare) || []) {
          if (number === bare) continue;
          for (const u of list) {
            if (building === null) add(u, saidRoom ? 85 : 80);
            else add(u, number.startsWith(building.toUpperCase()) ? 97 : 85);
          }
        }
      }
    }

    function roomNumber(q, building, hits) {
      const m = ROOM.exec(q);
      const text = m ? m[1] : q;
      if (CELL_SAID.test(q)) return;
      const before = hits.units.size;
      numberHits(text, building, m !== null, hits, 0);
      const best = Math.max(0, ...[...hits.units.values()].map((c) => c.score));
      if (hits.units.size === before || best < 95) {
        const fixed = lookalikeDigits(text);
        if (fixed !== null) numberHits(fixed, building, m !== null, hits, 2);
      }
    }

    function numberAndName(q, building, hits) {
      // "room 214", "A114 classroom": a number said with room words only
      const tokens = q.split(' ');
      if (tokens.length < 2 || CELL_SAID.test(q)) return;
      for (let i = 0; i < tokens.length; i += 1) {
        if (!/\d/.test(tokens[i])) continue;
        const rest = tokens.filter((w, j) => j !== i && !ROOM_WORDS_SAID.has(w));
        if (!rest.length) numberHits(tokens[i], building, true, hits, 0);
        return;
      }
    }

    function doorHits(q, building, hits) {
      let found;
      if (MAIN_ENTRANCE.test(q)) {
        found = doors.filter((d) => d.main_entrance && (building === null || d.building === building));
        hits.setQuery = true;
        hits.setKind = 'door';
      } else {
        const m = DOOR.exec(q);
        if (!m) return;
        const number = m[1].toUpperCase();
        found = doors.filter((d) => d.number !== null && d.number.toUpperCase() === number &&
                             (building === null || d.building === building));
      }
      for (const d of found) hits.others.push({score: EXACT, place: d, kind: 'door'});
    }

    function amenityHits(q, building, hits) {
      if (q.length < 3 || !has(amenityWords, q)) return;
      const kind = amenityWords[q];
      hits.setQuery = true;
      hits.setKind = 'amenity';
      for (const a of amenities) {
        if (a.kind === kind && (building === null || a.building === building)) {
          hits.others.push({score: EXACT, place: a, kind: 'amenity'});
        }
      }
    }

    function restroomHits(q, building, hits) {
      // "boys bathroom", "staff restroom": restrooms by whom they serve (gridmap/lookup.py)
      if (!isRestroomPhrase(q)) return;
      const said = restroomGender(q);
      const rooms = restrooms.filter((u) => building === null || u.building === building);
      const matching = rooms.filter((u) => said === null || u.restroom.includes(said));
      const unknown = rooms.filter((u) => said !== null && !u.restroom.length);
      for (const u of matching) {
        addUnit(hits, u, matching.length === 1 ? 95 : 90);
        if (said === null) hits.byKind.add(u.id);
      }
      for (const u of unknown) addUnit(hits, u, 80, 'name', [FLAG_GENDER_UNKNOWN]);
    }

    function nameHit(p, score, building, hits) {
      if (building !== null && p.building !== building) return;
      if (p.type === 'grounds' && building !== null) return;
      if (p.type === 'unit') addUnit(hits, p, score);
      else hits.others.push({score, place: p, kind: p.type});
    }

    // names by their words (the server's _whole_words, its first rule): "vestibule", "staff
    // restroom" is the one name holding every word said, or a word it starts
    const stem = (w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w);
    const stemmed = (phrase) => new Set(key(phrase).split(' ').filter(Boolean).map(stem));
    const generic = vocabulary.generic_words;
    const stopWords = new Set(vocabulary.stop_words);
    const hallwayWords = new Set(vocabulary.hallway_words);
    const wordNames = [];
    const withWord = new Map();
    const withPrefix = new Map();
    for (const p of places) {
      if (p.type !== 'unit' && p.type !== 'amenity' && p.type !== 'grounds') continue;
      const phrases = p.kind_phrases || [];
      // a restroom's kind words count whole; a point's or a ground's word by word
      const extraWords = p.restroom ? [...generic, ...phrases]
        : [...generic, ...phrases.flatMap((w) => w.split(' '))];
      const extra = new Set(extraWords.map(stem));
      const kindWords = new Set([...extra].filter((w) => !generic.map(stem).includes(w)));
      for (const name of p.names) {
        for (const part of nameParts(name)) {
          const i = wordNames.length;
          const tokens = stemmed(part);
          wordNames.push({place: p, tokens, extra, kindWords, kindPhrases: phrases.map(stemmed)});
          for (const t of tokens) {
            push(withWord, t, i);
            for (let end = 3; end < t.length - 1; end += 1) push(withPrefix, t.slice(0, end), i);
          }
        }
      }
    }
    const subset = (a, b) => [...a].every((w) => b.has(w));

    function kindSaid(words, n) {
      const named = [...n.tokens].filter((t) => n.kindWords.has(t));
      if (!named.length || named.every((t) => words.has(t))) return true;
      return n.kindPhrases.some((phrase) => subset(phrase, words));
    }

    function wholeWords(words, building, hits) {
      const holding = [...words].map((w) => new Set([...(withWord.get(w) || []), ...(withPrefix.get(w) || [])]));
      if (!holding.length) return;
      const containing = [...holding[0]].filter((i) => holding.every((h) => h.has(i))).sort((a, b) => a - b);
      const features = new Set(containing.map((i) => wordNames[i].place.type + ':' + wordNames[i].place.id));
      const only = words.size === 1 ? [...words][0] : null;
      const genderOnly = only !== null && (restroomGender(only) !== null || hallwayWords.has(only));
      if (features.size !== 1 || ![...words].some((w) => w.length > 2) || genderOnly) return;
      const n = wordNames[containing[0]];
      if (kindSaid(words, n) && [...words].some((w) => !n.extra.has(w))) {
        nameHit(n.place, UNIQUE_WORD_SCORE, building, hits);
      }
    }

    const hallways = units.filter((u) => u.hallway);
    function hallwayHits(q, building, hits) {
      // "hallway", "corridor": the walkways, a choice unless only one is meant
      if (!hallwayWords.has(key(q))) return;
      const found = hallways.filter((u) => building === null || u.building === building);
      for (const u of found) {
        addUnit(hits, u, found.length === 1 ? 90 : 85, 'name');
        hits.byKind.add(u.id);
      }
    }

    function nameHits(q, building, hits) {
      if ((q.match(/\p{L}/gu) || []).length < 3) return;
      const restroom = isRestroomPhrase(q);
      roomNameVariants(q).forEach((variant, rank) => {
        for (const p of exactNames.get(key(variant)) || []) {
          if (restroom && restroomIds.has(p.id)) continue;
          nameHit(p, EXACT, building, hits);
        }
        const words = new Set([...stemmed(variant)].filter((w) => !stopWords.has(w)));
        if (rank === 0 && words.size) wholeWords(words, building, hits);
      });
    }

    function buildingNamed(q, hits) {
      const bare = q.replace(BUILDING_WORD, '').trim();
      const short = buildingsByWord.get(bare) || buildingsByWord.get(q);
      if (short !== undefined && buildingsByShort.has(short)) {
        hits.others.push({score: EXACT, place: buildingsByShort.get(short), kind: 'building'});
      }
    }

    function buildingQualifier(q) {
      let m = BUILDING.exec(q);
      if (m && buildingsByWord.has(m[1])) {
        const rest = (q.slice(0, m.index) + ' ' + q.slice(m.index + m[0].length)).trim();
        return [buildingsByWord.get(m[1]), rest.replace(/\s+/g, ' ')];
      }
      m = IN_BUILDING.exec(q);
      if (m) {
        const said = m[2].replace(BUILDING_WORD, '').trim();
        if (buildingsByWord.has(said)) return [buildingsByWord.get(said), m[1]];
      }
      const plain = withoutFiller(q).replace(/^all\s+/, '');
      const bare = plain.replace(BUILDING_WORD, '').trim();
      if (buildingsByWord.has(bare)) return [buildingsByWord.get(bare), ''];
      for (const word of buildingPhrases) {
        if (plain.startsWith(word + ' ')) {
          return [buildingsByWord.get(word), plain.slice(word.length).trim().replace(BUILDING_WORD, '').trim()];
        }
        if (plain.endsWith(' ' + word)) {
          return [buildingsByWord.get(word), plain.slice(0, -word.length).trim().replace(BUILDING_WORD, '').trim()];
        }
      }
      return null;
    }

    function newHits() {
      return {units: new Map(), others: [], setQuery: false, setKind: null, explicitCell: false,
        byKind: new Set()};
    }

    // a floor said ("214 upstairs", "restroom 2nd floor"): the server's patterns, and the levels
    // each floor phrase names on this campus as the server worked them out (tiles/package.py)
    const floors = data.floors;
    const floorPatterns = floors.patterns.map(([source, relation]) => [new RegExp(source), relation]);
    function floorSaid(text) {
      for (const [re, relation] of floorPatterns) {
        const m = re.exec(text);
        if (!m) continue;
        const rest = (text.slice(0, m.index) + ' ' + text.slice(m.index + m[0].length)).replace(/\s+/g, ' ').trim();
        let number = null;
        if (relation === null) {
          const word = m.groups.num;
          number = has(floors.ordinals, word) ? floors.ordinals[word] : parseInt(word.replace(/\D/g, ''), 10);
        }
        return [{text: m[0].trim(), number, relation}, rest];
      }
      return [null, text];
    }

    function applyFloor(floor, hits) {
      // elsewhere than the floor said is at best a partial match, flagged so
      const ok = new Set(floor.relation !== null ? floors.levels[floor.relation] : floors.levels[String(floor.number)] || []);
      for (const c of hits.units.values()) {
        if (!ok.has(c.place.level_id)) {
          c.score = Math.min(c.score, OFF_FLOOR_SCORE);
          c.flags = [...c.flags, FLAG_OFF_FLOOR];
        }
      }
      // "hallway 2nd floor": the one room of the kind said on the floor said
      const onFloor = [...hits.byKind].filter((id) => ok.has(hits.units.get(id).place.level_id));
      if (onFloor.length === 1) {
        const c = hits.units.get(onFloor[0]);
        c.score = Math.max(c.score, FOUND_THRESHOLD);
      }
      hits.others = hits.others.map((c) => (
        c.place.level_id && !ok.has(c.place.level_id) && c.kind !== 'cell'
          ? {...c, score: Math.min(c.score, OFF_FLOOR_SCORE), flags: [...(c.flags || []), FLAG_OFF_FLOOR]}
          : c));
    }

    function reading(building, spoken) {
      const hits = newHits();
      const core = withoutFiller(spoken);
      if (building !== null && !core.replace(FILLER, ' ').trim()) {
        hits.others.push({score: EXACT, place: buildingsByShort.get(building), kind: 'building'});
        return hits;
      }
      cellHits(core, hits);
      doorHits(core, building, hits);
      roomNumber(core, building, hits);
      numberAndName(core, building, hits);
      if (building === null) buildingNamed(core, hits);
      const numbered = DOOR.test(core) || NUMBERED_DOOR.test(core) || CELL.test(core) ||
        NUMBER_SHAPE.test((ROOM.exec(core) || [null, core])[1]) ||
        lookalikeDigits((ROOM.exec(core) || [null, core])[1]) !== null;
      const named = building === null ? hits : newHits();
      for (const text of new Set([core, spoken])) {
        amenityHits(text, building, hits);
        if (!numbered) {
          nameHits(text, building, named);
          restroomHits(text, building, named);
          hallwayHits(text, building, named);
        }
      }
      if (named !== hits) {
        for (const c of named.units.values()) addUnit(hits, c.place, Math.min(c.score, QUALIFIED_NAME_SCORE), c.match, c.flags);
        for (const c of named.others) hits.others.push({...c, score: Math.min(c.score, QUALIFIED_NAME_SCORE)});
        for (const id of named.byKind) hits.byKind.add(id);
      }
      return hits;
    }

    function rankKey(c) {
      const p = c.place;
      return [-c.score, p.type === 'grounds' ? '~' : (p.building || '~'), p.ordinal === null ? 0 : p.ordinal,
        p.type === 'unit' ? (p.number || '') : '', p.label];
    }

    function compare(a, b) {
      const ka = rankKey(a);
      const kb = rankKey(b);
      for (let i = 0; i < ka.length; i += 1) {
        if (ka[i] < kb[i]) return -1;
        if (ka[i] > kb[i]) return 1;
      }
      return 0;
    }

    function lookup(query, limit) {
      limit = limit || 10;
      if (query.length > MAX_QUERY_LENGTH) {
        return {query, status: 'error', message: `At most ${MAX_QUERY_LENGTH} characters.`, candidates: []};
      }
      let q = clean(query, abbreviations);
      if (!q) return {query, status: 'error', message: 'Type a room number, name, door or point.', candidates: []};
      const [floor, rest] = floorSaid(q);
      const wholeName = exactNames.has(key(withoutFiller(q)));
      if (floor !== null && !rest.replace(FILLER, ' ').trim() && !wholeName) {
        return {query, status: 'not_found', candidates: [],
          message: `'${floor.text}' names a floor, not a place on it; add a room, name or door.`};
      }
      const all = newHits();
      const onFloor = floor !== null && !wholeName ? floor : null;
      if (onFloor !== null) q = rest;
      const readings = [[null, q]];
      const qualified = buildingQualifier(q);
      if (qualified !== null) readings.push(qualified);
      for (const [building, spoken] of readings) {
        const found = reading(building, spoken);
        for (const c of found.units.values()) addUnit(all, c.place, c.score, c.match, c.flags);
        all.others.push(...found.others);
        all.explicitCell = all.explicitCell || found.explicitCell;
        all.setQuery = all.setQuery || found.setQuery;
        all.setKind = all.setKind || found.setKind;
        for (const id of found.byKind) all.byKind.add(id);
      }
      if (onFloor !== null) applyFloor(onFloor, all);
      const bestOther = new Map();
      for (const c of all.others) {
        const k = c.place.type + ':' + (c.place.id || c.place.label);
        if (!bestOther.has(k) || bestOther.get(k).score < c.score) bestOther.set(k, c);
      }
      let candidates = [...all.units.values(), ...bestOther.values()];
      candidates = settle(candidates, all.setQuery, all.explicitCell);
      candidates.sort(compare);
      if (all.setKind !== null && candidates.some((c) => c.kind === all.setKind && c.score >= FOUND_THRESHOLD)) {
        candidates = candidates.filter((c) => c.kind === all.setKind);
      }
      return result(query, candidates.slice(0, limit), all.setQuery);
    }

    function settle(candidates, setQuery, explicitCell) {
      if (!candidates.length) return candidates;
      // a room number beats a grid cell spelled alike, which follows as an alternative; a
      // cell beats a room number only loosely alike ("B12" for B012)
      const strongRooms = candidates.some((c) => c.match === 'number' && c.score >= 95);
      const cells = candidates.some((c) => c.kind === 'cell');
      candidates = candidates.map((c) => {
        if (explicitCell) return c;
        if (c.kind === 'cell' && strongRooms) {
          return {...c, score: ALTERNATIVE_SCORE, flags: [...(c.flags || []), FLAG_ALSO_CELL]};
        }
        if (cells && !strongRooms && c.match === 'number') {
          return {...c, score: Math.min(c.score, ALTERNATIVE_SCORE), flags: [...(c.flags || []), FLAG_ALSO_ROOM]};
        }
        return c;
      });
      if (setQuery) return candidates;
      const best = Math.max(...candidates.map((c) => c.score));
      const topUnits = candidates.filter((c) => c.place.type === 'unit' && c.score >= best - 0.5);
      if (!topUnits.length) return candidates;
      const unitBuildings = new Set(topUnits.map((c) => c.place.building));
      const unitIds = new Set(topUnits.map((c) => c.place.id));
      return candidates.filter((c) => !(c.score >= best - 0.5 && (
        (c.place.type === 'building' && unitBuildings.has(c.place.building)) ||
        (c.place.type === 'amenity' && (c.place.inside || []).some((id) => unitIds.has(id))))));
    }

    function result(query, candidates, setQuery) {
      const out = (status, message, list) => ({query, status, message,
        candidates: list.map((c) => ({...c.place, score: c.score,
          flags: [...(c.place.flags || []), ...(c.flags || [])]}))});
      if (!candidates.length) {
        return out('not_found', `Nothing in this package matches "${query.trim()}". ` +
          'Offline search knows room numbers, names, doors, points of interest and grid cells; ' +
          'for misspellings, coordinates and "nearest" questions ask dispatch or the gridmap server.', []);
      }
      const best = candidates[0].score;
      const top = candidates.filter((c) => c.score >= best - 0.5);
      if (best >= FOUND_THRESHOLD && setQuery) {
        const answer = candidates.filter((c) => c.score >= Math.max(FOUND_THRESHOLD, best - 5));
        return out('found', answer.length > 1 ? `${answer.length} matches` : '1 match', answer);
      }
      if (best >= FOUND_THRESHOLD && top.length === 1) {
        // one answer; only alternatives flagged as such ("also a grid cell") may follow it
        const also = candidates.slice(1).filter((c) => (c.flags || []).some((f) => f.startsWith('also ')));
        const message = '1 match' + (also.length ? '; also possible: ' +
          also.map((c) => c.place.label.split(' · ')[0]).join(', ') : '');
        return out('found', message, [top[0], ...also]);
      }
      if (top.every((c) => (c.flags || []).includes(FLAG_GENDER_UNKNOWN))) {
        // "girls restroom" where the map says no gender: say why, not "partial"
        return out('ambiguous', (top.length > 1 ? `${top.length} restrooms; ${FLAG_GENDER_UNKNOWN}`
          : FLAG_GENDER_UNKNOWN[0].toUpperCase() + FLAG_GENDER_UNKNOWN.slice(1)) + ': confirm with the caller', candidates);
      }
      if (top.length > 1) return out('ambiguous', `${top.length} equally good matches; confirm which one`, candidates);
      return out('ambiguous', 'Only a partial match; confirm it with the caller', candidates);
    }

    return {lookup, clean: (q) => clean(q, abbreviations), place: (id) => byId.get(id)};
  }

  // --- what a dispatcher reads out after the label (api/cli.py: candidate_line) ---------------

  /** Python's format(x, '.0f'): halves to even, as the server's numbers are written. */
  function wholeMetres(x) {
    const floor = Math.floor(x);
    const rest = x - floor;
    if (rest !== 0.5) return String(rest > 0.5 ? floor + 1 : floor);
    return String(floor % 2 === 0 ? floor : floor + 1);
  }

  function elsewhere(item, c) {
    const bits = [];
    if (item.building_id && c.building_id && item.building_id !== c.building_id) {
      bits.push(`Building ${item.building || item.building_id}`);
    }
    const ordinal = item.level_ordinal;
    const here = c.ordinal;
    if (item.same_level === false || (ordinal !== null && ordinal !== undefined &&
        here !== null && here !== undefined && ordinal !== here)) {
      const level = item.level_name || (ordinal !== null && ordinal !== undefined ? `level ${ordinal}` : '');
      const via = item.via ? `via ${item.via}` : '';
      if (level || via) bits.push([level, via].filter(Boolean).join(' '));
    }
    return bits.join(', ');
  }

  function nearbyText(item, c, cellInside) {
    if (!item) return '';
    const metres = typeof item.distance_m === 'number' ? `${wholeMetres(item.distance_m)} m` : '? m';
    const inside = [metres, ...(cellInside ? [String(item.cell || '')] : [])];
    const where = elsewhere(item, c);
    if (where) inside.push(where);
    const bracket = `(${inside.filter(Boolean).join(', ')})`;
    return cellInside ? bracket : `${item.cell} ${bracket}`;
  }

  /** The answer's flags, USNG, nearest doors, Knox box, AED and trauma kit, " · " apart. */
  function answerLine(c) {
    const parts = [];
    const flags = (c.flags || []).filter((f) => !c.label.includes(f));
    if (flags.length) parts.push(flags.join('; '));
    if (c.usng) parts.push(`USNG ${c.usng}`);
    const nearby = c.nearby || {};
    const doors = (nearby.doors || []).slice(0, 2).map((d) =>
      `${d.number ? `door ${d.number}` : 'unnumbered door'} ${nearbyText(d, c, true)}`);
    if (doors.length) parts.push(doors.join(', '));
    for (const [k, name] of [['knox_box', 'Knox box'], ['aed', 'AED'], ['trauma_kit', 'Trauma kit']]) {
      const text = nearbyText(nearby[k], c, false);
      if (text) parts.push(`${name} ${text}`);
    }
    return parts.join(' · ');
  }

  return {create, answerLine, fold, key, normaliseNumber, looseNumber, lookalikeDigits, spokenNumbers};
}));
