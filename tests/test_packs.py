"""The shipped packs: their size, their shape, and how well they catch what agents say and
Whisper writes (tests/data/dev_sentences*.yaml: true text plus real Whisper-base transcripts)."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from monitor.pii import DETECTORS

from .conftest import DATA


def test_pack_sizes(shipped):
    per_pack = Counter(r.pack for r in shipped.rules)
    assert per_pack["ja-discrimination"] >= 40
    assert per_pack["ja-abusive"] >= 30
    assert per_pack["ja-misleading"] >= 25
    assert {r.pii.detector for r in shipped.rules if r.pii} == set(DETECTORS)
    assert {r.id for r in shipped.required_rules} >= {"required.recording-notice", "required.agent-name"}


def test_every_rule_explains_itself(shipped):
    for r in shipped.rules:
        assert r.message and r.suggestion, r.id
        assert len(r.match_examples) >= 2 and len(r.no_match_examples) >= 2, r.id
        assert r.category in {"discrimination", "abusive", "misleading", "pii", "required_phrase"}, r.id


def test_discrimination_covers_every_handbook_category(shipped):
    notes = " ".join(r.note for r in shipped.rules if r.pack == "ja-discrimination")
    for category in ("民族・人種", "性別", "職業", "身分", "境遇", "心身の状態", "身体的特徴"):
        assert category in notes


CLEAN_CALL = """\
お電話ありがとうございます。株式会社サンプル、カスタマーセンターの佐藤でございます。
品質向上のため、この通話は録音させていただいております。
ご本人様確認のため、お名前と生年月日をお願いいたします。
ありがとうございます。ご登録のお電話番号の下四桁をお伺いしてもよろしいでしょうか。
確認いたしますので、少々お待ちください。
大変お待たせいたしました。ご契約内容を確認いたしました。
こちらの商品は元本保証ではございませんので、あらかじめご了承ください。
値動きがございますので、必ず利益が出るとは限りません。
解約のお手続きはこちらで承ります。
ご不明な点がございましたら、いつでもお問い合わせください。
担当者におつなぎいたしますので、お電話を切らずにお待ちください。
本日は株式会社サンプルの佐藤が承りました。お電話ありがとうございました。
"""


def test_an_ordinary_call_raises_no_alert(shipped):
    for line in CLEAN_CALL.splitlines():
        assert shipped.match(line) == [], line


def load(name: str) -> list[dict]:
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return data["sentences"]


def recall_and_false(shipped, sentences: list[dict], field: str) -> tuple[float, int, int]:
    caught = total = false = clean = 0
    for s in sentences:
        text = s.get(field)
        if text is None:
            continue
        hits = shipped.match(text)
        if s.get("category"):
            total += 1
            caught += any(h.category == s["category"] for h in hits)
        else:
            clean += 1
            false += bool(hits)
    return caught / total, false, clean


DEV_SETS = sorted(p.name for p in DATA.glob("dev_sentences*.yaml"))
# No rule was written or tuned for I and J (their writers saw neither the packs nor the other sets):
# they measure how the written rules generalise, and the learned model trains on them. K-P were
# written the same way, later; what shaped rules from them: their clean sentences' 26 false alerts
# (negated 今日だけ, 日本一の山, 雑菌を殺す, バカ売れ, a company's own number ...), fixed by general
# unless patterns and the quoted-mention filter, and their pii misses (asking for a PIN or password,
# passport and licence numbers, a named person's illness or record), three new pii rules. Their
# discrimination, abusive and misleading sentences are untouched. Those fixes also took one of J's
# false alerts and found two more of J's violations, which no one looked at. On 2026-12-02 the misses
# of a replay of I and J's audio (the model trained without them) that the true text missed too
# shaped general patterns (the other customers' excuse, a past record as a promise, 無料って言いました
# けど…かかる, このお電話の間だけ): I and J measure the rules no longer.
HELD_OUT = {
    "dev_sentences_i.yaml": (0.52, 1),  # recall 0.41, 1 of 28 clean alerted when written; 0.55 now
    "dev_sentences_j.yaml": (0.46, 2),  # recall 0.41, 4 of 28 (0.44, 3 after K-P's fixes); 0.49, 2 now
    "dev_sentences_k.yaml": (0.52, 0),  # recall 0.46 when written, 0.55 with the pii rules
    "dev_sentences_l.yaml": (0.53, 0),  # 0.48, 0.56
    "dev_sentences_m.yaml": (0.52, 0),  # 0.46, 0.55
    "dev_sentences_n.yaml": (0.53, 1),  # 0.48, 0.56; 違約金もかかりません (true or not, no rule can know)
    "dev_sentences_o.yaml": (0.62, 0),  # 0.56, 0.65
    "dev_sentences_p.yaml": (0.52, 0),  # 0.48, 0.55
    # Q-V came last and shaped nothing: held out from the rules entirely.
    "dev_sentences_q.yaml": (0.34, 1),  # recall 0.37, 1 of 28 clean alerted
    "dev_sentences_r.yaml": (0.48, 0),  # 0.51, 0
    "dev_sentences_s.yaml": (0.43, 1),  # 0.46, 1
    "dev_sentences_t.yaml": (0.57, 1),  # 0.60, 1
    "dev_sentences_u.yaml": (0.48, 2),  # 0.51, 2
    "dev_sentences_v.yaml": (0.47, 1),  # 0.50, 1
    # W-ZB (debt collection, telecom and energy sales, healthcare, schools and salons, travel,
    # crypto and securities) came after them: also held out from the rules; the model trains on them.
    "dev_sentences_w.yaml": (0.42, 1),  # recall 0.45, 1 of 28 clean alerted
    "dev_sentences_x.yaml": (0.53, 3),  # 0.56, 3
    "dev_sentences_y.yaml": (0.48, 3),  # 0.51, 3
    "dev_sentences_z.yaml": (0.45, 4),  # 0.49, 4
    "dev_sentences_za.yaml": (0.49, 5),  # 0.52, 5
    "dev_sentences_zb.yaml": (0.48, 3),  # 0.51, 3
    # ZC-ZH (B2B telesales, parcels and electronics, spiritual sales, bank complaints, the elderly,
    # online marketplaces) came last. The rules learned from their clean lines (the customer's words
    # reported with おっしゃる, an agent calling themself バカ while apologising) and their pii misses
    # (asking for an SMS code, 普通、7304519, a named person's 前科 or 透析); nothing from their
    # discrimination, abusive or misleading sentences.
    "dev_sentences_zc.yaml": (0.43, 1),  # recall 0.44 when written (0.46 with the pii rules), 3 -> 1 false
    "dev_sentences_zd.yaml": (0.45, 0),  # 0.45 (0.48), 0
    "dev_sentences_ze.yaml": (0.46, 1),  # 0.46 (0.49), 2 -> 1
    "dev_sentences_zf.yaml": (0.37, 0),  # 0.37 (0.40), 1 -> 0
    "dev_sentences_zg.yaml": (0.40, 0),  # 0.40 (0.43), 1 -> 0
    "dev_sentences_zh.yaml": (0.45, 0),  # 0.48, 0
    # ZI-ZN (emergency home services, weddings and photo studios, secondary scams on the elderly,
    # students, pets, foreign residents), written after those fixes: held out from the rules entirely.
    "dev_sentences_zi.yaml": (0.34, 1),  # recall 0.37, 1 of 28 clean alerted
    "dev_sentences_zj.yaml": (0.25, 1),  # 0.28, 1
    "dev_sentences_zk.yaml": (0.35, 2),  # 0.38, 2
    "dev_sentences_zl.yaml": (0.25, 1),  # 0.28, 1
    "dev_sentences_zm.yaml": (0.36, 1),  # 0.39, 1
    "dev_sentences_zn.yaml": (0.29, 1),  # 0.32, 1
    # ZO-ZV (life insurance, city-hall impersonation, used cars and leases, beauty clinics, real
    # estate and home energy, games and crypto, temp staffing, clinics and health food), written on
    # 2026-12-02 and measured before anything was fitted to them. Then their misses shaped rules:
    # threats to go to the home or tell the family, 口止め, posing as commissioned by a public body,
    # asking for a false statement, mocking intelligence; and four of their clean lines, the text-level
    # mentions (a customer's wish taken up, 「…」と思われる).
    "dev_sentences_zo.yaml": (0.48, 0),  # recall 0.45 when written, 0.51 now; 1 -> 0 false
    "dev_sentences_zp.yaml": (0.54, 1),  # 0.54, 0.57; 1
    "dev_sentences_zq.yaml": (0.43, 1),  # 0.45, 0.46; 1
    "dev_sentences_zr.yaml": (0.50, 1),  # 0.48, 0.54; 1
    "dev_sentences_zs.yaml": (0.50, 1),  # 0.49, 0.54; 1
    "dev_sentences_zt.yaml": (0.44, 1),  # 0.41, 0.48; 3 -> 1
    "dev_sentences_zu.yaml": (0.39, 1),  # 0.39, 0.43; 1
    "dev_sentences_zv.yaml": (0.51, 2),  # 0.49, 0.55; 2
    # ZW-ZZ (funerals and graves, fitness clubs and adult schools, home-visit sales to the elderly,
    # law offices, detectives and home security), written 2026-12-02 afternoon, measured first (rules
    # alone 0.436, rules + model 0.869 with 10 of 112 clean alerted); then their misses and false
    # alerts shaped rules as for ZO-ZV.
    "dev_sentences_zw.yaml": (0.42, 0),  # recall 0.40 when written, 0.45 now; 1 -> 0 false
    "dev_sentences_zx.yaml": (0.55, 1),  # 0.52, 0.59; 2 -> 1
    "dev_sentences_zy.yaml": (0.43, 1),  # 0.37, 0.46; 3 -> 1
    "dev_sentences_zz.yaml": (0.49, 0),  # 0.45, 0.52; 1 -> 0
    # ZZA-ZZF (solar panels and batteries, moving and junk removal, fee/tax/utility arrears
    # collection, a rural co-op, study abroad and overseas property, ride-hailing and food delivery),
    # written 2026-12-02 evening, measured first (rules alone 0.459, rules + model 0.886 with 8 of 168
    # clean alerted); then the misses of all but ZZB that name a known trick shaped general patterns.
    "dev_sentences_zza.yaml": (0.42, 3),  # recall 0.44 when written, 0.45 now; 3 false
    "dev_sentences_zzb.yaml": (0.47, 0),  # 0.50, 0.50; 0
    "dev_sentences_zzc.yaml": (0.49, 0),  # 0.48, 0.52; 0
    "dev_sentences_zzd.yaml": (0.55, 1),  # 0.54, 0.59; 1
    "dev_sentences_zze.yaml": (0.42, 1),  # 0.44, 0.45; 1
    "dev_sentences_zzf.yaml": (0.35, 1),  # 0.37, 0.38; 1
    # ZZG-ZZN (a mobile and fibre-internet reseller, a marriage agency, a pet shop with pet insurance
    # and funerals, nursing-home admissions, cram-school and home-tutor sales, home-renovation and
    # termite-control telemarketing, a supplement and cosmetics subscription desk, a second-hand and
    # precious-metal buying service), written 2026-12-02 after ZZA-ZZF and measured first (rules alone
    # 0.462, rules + model 0.889 with 8 of 224 clean alerted); no rule has been fitted to them.
    "dev_sentences_zzg.yaml": (0.51, 2),  # recall 0.54 when written; 2 false
    "dev_sentences_zzh.yaml": (0.40, 2),  # 0.43; 2
    "dev_sentences_zzi.yaml": (0.43, 1),  # 0.46; 1
    "dev_sentences_zzj.yaml": (0.39, 0),  # 0.41; 0
    "dev_sentences_zzk.yaml": (0.36, 0),  # 0.39; 0
    "dev_sentences_zzl.yaml": (0.51, 0),  # 0.54; 0
    "dev_sentences_zzm.yaml": (0.43, 0),  # 0.46; 0
    "dev_sentences_zzn.yaml": (0.43, 0),  # 0.46; 0
    # ZZO-ZZV (airline and package tours, used cars and auto loans, a city hall's and its utilities'
    # line, hotels and wedding halls, PC remote support, cosmetic clinics, water servers and meal kits,
    # TV shopping and furusato-nozei), written 2026-12-03 and measured first (rules alone 0.497, rules +
    # model 0.925 with 8 of 224 clean alerted; transcripts 0.898 with 7 of 224). Then three of their
    # clean lines' truths (no cooling-off for mail order, in-store or travel; the agent's own loud voice)
    # and one transcript's 普通講座 shaped general patterns.
    "dev_sentences_zzo.yaml": (0.43, 1),  # recall 0.46 when written; 2 -> 1 false
    "dev_sentences_zzp.yaml": (0.48, 2),  # 0.51; 3 -> 2
    "dev_sentences_zzq.yaml": (0.40, 1),  # 0.43; 1
    "dev_sentences_zzr.yaml": (0.45, 0),  # 0.48; 0
    "dev_sentences_zzs.yaml": (0.55, 1),  # 0.57, 0.59 now; 1
    "dev_sentences_zzt.yaml": (0.45, 3),  # 0.48; 3
    "dev_sentences_zzu.yaml": (0.49, 1),  # 0.52; 1
    "dev_sentences_zzv.yaml": (0.49, 1),  # 0.52; 3 -> 1
    # ZZW-ZZZB (a credit-card lost-card and fraud desk, a condominium-management residents' line, medical
    # and cancer insurance claims, a staffing agency's recruiters, a municipal childcare desk, a regional
    # bank's investment sales to the elderly), written 2026-12-03 afternoon and measured first (rules
    # alone 0.421, rules + model 0.919 with 4 of 168 clean alerted; transcripts 0.886 with 6 of 168).
    # Then their pii misses (asking religion or a criminal record, a card number in full, a neighbour's
    # record or welfare) and the misleading refusals 'by law' shaped general patterns.
    "dev_sentences_zzw.yaml": (0.40, 2),  # recall 0.38 when written, 0.43 now; 2 false
    "dev_sentences_zzx.yaml": (0.46, 1),  # 0.42, 0.49; 1
    "dev_sentences_zzy.yaml": (0.49, 0),  # 0.48, 0.52; 0
    "dev_sentences_zzz.yaml": (0.39, 1),  # 0.35, 0.41; 1
    "dev_sentences_zzza.yaml": (0.37, 1),  # 0.35, 0.40; 1
    "dev_sentences_zzzb.yaml": (0.55, 0),  # 0.55, 0.59; 0
    # Six more (energy switching telemarketing, an FX and online-securities broker, a rent-guarantee
    # company, a dental clinic chain, qualification courses and a driving school, parcel delivery), written
    # 2026-12-03 evening and measured first (rules alone 0.453, rules + model 0.939 with 3 of 168 clean
    # alerted; transcripts 0.902 with 5 of 168). Their misses then shaped general patterns (a password
    # asked with many words between, costs explained only after the signature, 'by law' refusals,
    # eviction threats, third parties' arrests and religion) and the reported-speech mentions
    # (…とのお言葉, …と言われたとのこと), which took 12 clean lines of other sets' alerts away.
    "dev_sentences_zzzc.yaml": (0.48, 0),  # 0.48 when written, 0.51 now; 1 -> 0 false
    "dev_sentences_zzzd.yaml": (0.49, 0),  # 0.52, 0.52; 1 -> 0 (cooling-off for FX)
    "dev_sentences_zzze.yaml": (0.45, 0),  # 0.44, 0.49; 0
    "dev_sentences_zzzf.yaml": (0.41, 1),  # 0.38, 0.44; 3 -> 1
    "dev_sentences_zzzg.yaml": (0.44, 0),  # 0.46, 0.48; 2 -> 0
    "dev_sentences_zzzh.yaml": (0.48, 0),  # 0.44, 0.51; 1 -> 0
    # Six more (side-business and investment schools, a placement desk for foreign technical interns,
    # hearing aids and care goods by mail, taxi and care-taxi dispatch, home security, bank home loans),
    # written 2026-12-03 afternoon and measured first (rules alone 0.451, rules + model 0.959 with 5 of
    # 168 clean alerted; transcripts 0.925 with 5 of 168). Their misses then shaped general patterns (a
    # security code asked with お願い, arrest history asked, a third party's abortion, a wife asked for her
    # husband's consent, denied social insurance) and their clean lines' alerts three fixes (守秘, low
    # stock with 'no hurry', a contractor denied) and mentions (殺すぞって言われたんですね).
    "dev_sentences_zzzi.yaml": (0.44, 0),  # 0.46 when written, 0.48 now; 0
    "dev_sentences_zzzj.yaml": (0.43, 0),  # 0.43, 0.46; 2 -> 0
    "dev_sentences_zzzk.yaml": (0.45, 0),  # 0.46, 0.49; 1 -> 0
    "dev_sentences_zzzl.yaml": (0.43, 0),  # 0.45, 0.46; 1 -> 0
    "dev_sentences_zzzm.yaml": (0.44, 0),  # 0.48, 0.48; 0
    "dev_sentences_zzzn.yaml": (0.44, 0),  # 0.43, 0.48; 0
    # ZZZO-ZZZT (gravestones and grave relocation, fire-extinguisher inspection sales, housekeeping and
    # cleaning bookings, charity telefundraising, health checkups, subsidy-application consulting),
    # written 2026-12-03 evening and measured first (rules alone 0.472, rules + model 0.929 with 4 of 168
    # clean alerted; transcripts 0.909 with 6; as calls 0.910 with 5 of 140, ZZZP-ZZZT). Their misses
    # then shaped general patterns (costs put off until after signing, 形だけ, denied cooling-off as a
    # thing, a minor's contract without consent, spiritual fear, a secret number 'noted down', doubting a
    # group's understanding, surcharges by group, ばっかじゃないの, 鏡見たことあります).
    "dev_sentences_zzzo.yaml": (0.48, 0),  # 0.50 when written, 0.61 now; 0
    "dev_sentences_zzzp.yaml": (0.55, 0),  # 0.57, 0.60; 1 -> 0
    "dev_sentences_zzzq.yaml": (0.50, 0),  # 0.52, 0.55; 0
    "dev_sentences_zzzr.yaml": (0.47, 0),  # 0.49, 0.56; 1 -> 0
    "dev_sentences_zzzs.yaml": (0.35, 0),  # 0.37, 0.46; 0
    "dev_sentences_zzzt.yaml": (0.37, 0),  # 0.39, 0.42; 0
    # ZZZU-ZZZZ (web-production and SEO/MEO ad telemarketing, fire-insurance claim assistance and roof
    # repair, horse-racing tipsters and lottery prediction, an LP-gas and kerosene supplier, a
    # pharmaceutical information line, online English and children's programming schools), written
    # 2026-12-03 night and measured first (rules alone 0.514, rules + model 0.951 with 2 of 168 clean
    # alerted; transcripts 0.923 with 3). Their misses then shaped general patterns (false affiliation,
    # a public body's ご案内で, cancellation only in person, results promised: rank, cure, job, lottery,
    # price; a third party's bankruptcy, religion joined asked, 'no need to ask your doctor').
    "dev_sentences_zzzu.yaml": (0.46, 0),  # 0.48 when written, 0.54 now; 1 -> 0
    "dev_sentences_zzzv.yaml": (0.55, 0),  # 0.57, 0.57; 0
    "dev_sentences_zzzw.yaml": (0.54, 0),  # 0.56, 0.60; 1 -> 0
    "dev_sentences_zzzx.yaml": (0.50, 0),  # 0.52, 0.56; 0
    "dev_sentences_zzzy.yaml": (0.50, 1),  # 0.52, 0.61; 1 (うるさい、黙れとおっしゃりたくなる, the model's)
    "dev_sentences_zzzz.yaml": (0.41, 0),  # 0.43, 0.46; 1 -> 0
    # ZZZZA-ZZZZD (smartphone repair and trade-in, kimono and jewellery exhibition sales, car rental and
    # parking, a children's photo studio), written 2026-12-03 night after ZZZU-ZZZZ had joined the
    # training, measured first (rules alone 0.500, rules + model 0.960 with 2 of 112 clean alerted;
    # transcripts 0.942 with 1); then their misses shaped general patterns as before.
    "dev_sentences_zzzza.yaml": (0.52, 0),  # 0.54 when written, 0.55 now; 0
    "dev_sentences_zzzzb.yaml": (0.48, 0),  # 0.50, 0.56; 0
    "dev_sentences_zzzzc.yaml": (0.53, 0),  # 0.55, 0.59; 1 -> 0 (レンタカー, outside cooling-off)
    "dev_sentences_zzzzd.yaml": (0.40, 0),  # 0.42, 0.46; 0
}


@pytest.mark.parametrize("name", DEV_SETS)
def test_dev_set_recall_on_true_text(written, name):
    recall, false, clean = recall_and_false(written, load(name), "text")
    least, most_false = HELD_OUT.get(name, (0.95, clean // 18))
    assert recall >= least, f"recall {recall:.2f} on the true text of {name}"
    assert false <= most_false, f"{false} false alerts on {clean} clean sentences of {name}"


# What the packs find in each set's Whisper transcripts (plain beam 5, one sentence at a time), as
# floors a change must not go below: (recall, false alerts). Sets C-H's transcripts are worse (their
# words are rarer, their speech more casual), and some clean sentences come back as something else
# (元本保証のない商品 as ガンポン保証の内装品, 来週再入荷します as 来週際に浮かします, お釜 as おかま):
# no rule on the text can tell. I-L, held out from the rules' violations, show what the written rules
# alone find in the speech of writers they were not fitted to, and M-P too. ZO-ZR's transcripts were made
# on 2026-12-02 and kept out for an evening (trained on, the unstable trainer's model read a utility's
# introduction, 桜電力の佐藤と申します, as an impersonation); ZZB's and ZZF's were made before anything was
# fitted to those sets, as were ZZG's; ZS's later. Each set's are worth making: trained on the true
# text alone, the model found 0.815 of the held-out transcripts' violations, with them 0.847. The other
# sets have none yet.
TRANSCRIPT_FLOORS = {
    "dev_sentences.yaml": (0.80, 0),
    "dev_sentences_b.yaml": (0.72, 0),
    "dev_sentences_c.yaml": (0.60, 2),
    "dev_sentences_d.yaml": (0.66, 1),  # お釜 comes back as おかま
    "dev_sentences_e.yaml": (0.53, 0),
    "dev_sentences_f.yaml": (0.62, 0),
    "dev_sentences_g.yaml": (0.64, 0),
    "dev_sentences_h.yaml": (0.64, 1),
    "dev_sentences_i.yaml": (0.28, 1),  # 0.23 when written; 0.31 after the replay's patterns
    "dev_sentences_j.yaml": (0.31, 3),  # 0.29; 0.34
    "dev_sentences_k.yaml": (0.36, 0),  # 0.39
    "dev_sentences_l.yaml": (0.31, 1),  # 0.34
    "dev_sentences_m.yaml": (0.35, 0),  # 0.38
    "dev_sentences_n.yaml": (0.26, 0),  # 0.29 (dialect: Whisper base hears it worst)
    "dev_sentences_o.yaml": (0.36, 1),  # 0.39
    "dev_sentences_p.yaml": (0.35, 1),  # 0.38
    "dev_sentences_zo.yaml": (0.31, 1),  # 0.34 now
    "dev_sentences_zp.yaml": (0.48, 1),  # 0.51
    "dev_sentences_zq.yaml": (0.27, 1),  # 0.31
    "dev_sentences_zr.yaml": (0.34, 1),  # 0.38
    "dev_sentences_zs.yaml": (0.33, 2),  # 0.37 (made after its misses shaped rules)
    "dev_sentences_zzb.yaml": (0.31, 2),  # 0.34 (0.34 when made)
    "dev_sentences_zzf.yaml": (0.21, 3),  # 0.24 (0.23 when made)
    "dev_sentences_zzg.yaml": (0.38, 2),  # 0.41 when made (nothing fitted)
    "dev_sentences_zzo.yaml": (0.31, 2),  # 0.34 (made before anything was fitted to ZZO-ZZV)
    "dev_sentences_zzp.yaml": (0.36, 2),  # 0.39
    "dev_sentences_zzq.yaml": (0.25, 1),  # 0.28
    "dev_sentences_zzr.yaml": (0.33, 1),  # 0.35 when made, 0.37 now (普通講座)
    "dev_sentences_zzs.yaml": (0.37, 2),  # 0.39, 0.40 now
    "dev_sentences_zzt.yaml": (0.35, 2),  # 0.38
    "dev_sentences_zzu.yaml": (0.35, 1),  # 0.38
    "dev_sentences_zzv.yaml": (0.36, 1),  # 0.39; 2 -> 1 false
    "dev_sentences_zzw.yaml": (0.30, 2),  # 0.27 when made, 0.33 now (前科 heard as 全家 among them)
    "dev_sentences_zzx.yaml": (0.29, 1),  # 0.28, 0.32
    "dev_sentences_zzy.yaml": (0.29, 1),  # 0.29, 0.32
    "dev_sentences_zzz.yaml": (0.29, 1),  # 0.27, 0.32
    "dev_sentences_zzza.yaml": (0.30, 1),  # 0.28, 0.33
    "dev_sentences_zzzb.yaml": (0.40, 1),  # 0.42, 0.43
    "dev_sentences_zzzc.yaml": (0.35, 0),  # 0.34 when made, 0.38 now
    "dev_sentences_zzzd.yaml": (0.36, 0),  # 0.39, 0.39; 3 -> 0 false
    "dev_sentences_zzze.yaml": (0.33, 0),  # 0.33, 0.37
    "dev_sentences_zzzf.yaml": (0.27, 1),  # 0.29, 0.30; 3 -> 1
    "dev_sentences_zzzg.yaml": (0.32, 1),  # 0.34, 0.35
    "dev_sentences_zzzh.yaml": (0.32, 1),  # 0.32, 0.35; 2 -> 1
    "dev_sentences_zzzi.yaml": (0.33, 1),  # 0.35 when made, 0.37 now; 2 -> 1 (殺すぞ as コロス、どと言う言葉)
    "dev_sentences_zzzj.yaml": (0.34, 0),  # 0.35, 0.38; 3 -> 0
    "dev_sentences_zzzk.yaml": (0.31, 0),  # 0.32, 0.34
    "dev_sentences_zzzl.yaml": (0.26, 1),  # 0.29, 0.29; 1 (殺す気かと as 殺す効かと)
    "dev_sentences_zzzm.yaml": (0.31, 0),  # 0.34, 0.34
    "dev_sentences_zzzn.yaml": (0.32, 0),  # 0.33, 0.35
    "dev_sentences_zzzo.yaml": (0.32, 1),  # 0.34 when made, 0.39 now; 1
    "dev_sentences_zzzp.yaml": (0.43, 0),  # 0.45, 0.45; 2 -> 0 (ホモン販売 for 訪問販売)
    "dev_sentences_zzzq.yaml": (0.37, 1),  # 0.39, 0.40; 2 -> 1 (必ず下がるとは as 必ず下がるトワー)
    "dev_sentences_zzzr.yaml": (0.35, 0),  # 0.37, 0.43; 1 -> 0 (…とお感じになった)
    "dev_sentences_zzzs.yaml": (0.30, 0),  # 0.32, 0.35
    "dev_sentences_zzzt.yaml": (0.29, 0),  # 0.31, 0.32
    "dev_sentences_zzzu.yaml": (0.32, 0),  # 0.34 when made, 0.38 now
    "dev_sentences_zzzv.yaml": (0.39, 0),  # 0.42, 0.43
    "dev_sentences_zzzw.yaml": (0.42, 0),  # 0.44, 0.45; 1 -> 0
    "dev_sentences_zzzx.yaml": (0.33, 0),  # 0.35, 0.37; 1 -> 0 (殺す機化とオーシャル)
    "dev_sentences_zzzy.yaml": (0.39, 1),  # 0.42, 0.49; 1
    "dev_sentences_zzzz.yaml": (0.31, 1),  # 0.33, 0.35; 1 (法律で条件が決まっている手数量)
    "dev_sentences_zzzza.yaml": (0.42, 0),  # 0.44 when made, 0.45 now
    "dev_sentences_zzzzb.yaml": (0.33, 0),  # 0.35, 0.38
    "dev_sentences_zzzzc.yaml": (0.50, 0),  # 0.52, 0.54
    "dev_sentences_zzzzd.yaml": (0.31, 1),  # 0.33, 0.37; 1 (馬鹿にしているのかとをしっかり, for とお叱り)
}


def test_every_dev_set_has_a_floor():
    assert set(TRANSCRIPT_FLOORS) | set(HELD_OUT) == set(DEV_SETS)
    assert all(any(s.get("asr") for s in load(name)) for name in TRANSCRIPT_FLOORS)


@pytest.mark.parametrize("name", sorted(TRANSCRIPT_FLOORS))
def test_dev_set_recall_on_whisper_transcripts(written, name):
    recall, false, clean = recall_and_false(written, load(name), "asr")
    least, most_false = TRANSCRIPT_FLOORS[name]
    assert recall >= least, f"recall {recall:.2f} on Whisper's transcripts of {name}"
    assert false <= most_false, f"{false} false alerts on {clean} clean transcripts of {name}"


# Near-miss ordinary talk: 200 compliant agent lines each, written on 2026-12-02 by four helpers to share
# words with violations (neutral mentions of age, disability, nationality or welfare; honest fee, risk and
# cooling-off statements; scam warnings; company and masked numbers; バカ売れ, 死ぬほど暑い). The shipped
# packs alerted 18 of the 800 when they were written. Two of the four files (c, d) became training talk
# (talk_c, talk_d) once the trainer was stable; e and f stay held out from the model's training (named
# nearmiss_, not talk_): at most this many of each may alert. The stable trainer's model alerts 4 + 6 of
# them, as the unstable one's did (and that one stopped a step later, 12 + 16).
NEAR_MISS = {"nearmiss_e.yaml": 5, "nearmiss_f.yaml": 7}


def test_every_near_miss_file_has_a_ceiling():
    assert set(NEAR_MISS) == {p.name for p in DATA.glob("nearmiss_*.yaml")}


@pytest.mark.parametrize("name", sorted(NEAR_MISS))
def test_near_miss_talk_stays_quiet(shipped, name):
    lines = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["lines"]
    assert len(lines) == 200
    alerted = [line["text"] for line in lines if shipped.match(line["text"])]  # (required phrases never hit)
    assert len(alerted) <= NEAR_MISS[name], alerted
