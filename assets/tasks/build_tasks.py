"""Write the six paper tasks to assets/tasks/<task_id>.json, deterministically.

Run from anywhere: ``python assets/tasks/build_tasks.py``. The facts are the literal
tables below (real-world facts; when an entity's answer was disputed or ambiguous, e.g.
a country with two capitals or a currency renamed recently, the entity was left out).

Split: per domain, 30 entities are "val" and 100 are "test", chosen by
``random.Random(f"{SEED}:{domain}").sample(sorted(entities), 30)``; the two tasks of a
domain share the split because they share the entities.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 2025
N_VAL = 30
N_ITEMS = 130
OUT_DIR = Path(__file__).resolve().parent

# (country, capital, last word of the official currency)
COUNTRIES = [
    ("Albania", "Tirana", "Lek"), ("Algeria", "Algiers", "Dinar"), ("Argentina", "Buenos Aires", "Peso"),
    ("Armenia", "Yerevan", "Dram"), ("Australia", "Canberra", "Dollar"), ("Austria", "Vienna", "Euro"),
    ("Azerbaijan", "Baku", "Manat"), ("Bahamas", "Nassau", "Dollar"), ("Bahrain", "Manama", "Dinar"),
    ("Bangladesh", "Dhaka", "Taka"), ("Belgium", "Brussels", "Euro"), ("Benin", "Porto-Novo", "Franc"),
    ("Bosnia and Herzegovina", "Sarajevo", "Mark"), ("Botswana", "Gaborone", "Pula"),
    ("Brazil", "Brasília", "Real"), ("Burkina Faso", "Ouagadougou", "Franc"), ("Cambodia", "Phnom Penh", "Riel"),
    ("Cameroon", "Yaoundé", "Franc"), ("Canada", "Ottawa", "Dollar"),
    ("Central African Republic", "Bangui", "Franc"), ("Chad", "N'Djamena", "Franc"), ("Chile", "Santiago", "Peso"),
    ("Colombia", "Bogotá", "Peso"), ("Costa Rica", "San José", "Colón"), ("Croatia", "Zagreb", "Euro"),
    ("Cuba", "Havana", "Peso"), ("Cyprus", "Nicosia", "Euro"), ("Czech Republic", "Prague", "Koruna"),
    ("Democratic Republic of the Congo", "Kinshasa", "Franc"), ("Denmark", "Copenhagen", "Krone"),
    ("Djibouti", "Djibouti", "Franc"), ("Dominican Republic", "Santo Domingo", "Peso"), ("Ecuador", "Quito", "Dollar"),
    ("Egypt", "Cairo", "Pound"), ("Estonia", "Tallinn", "Euro"), ("Ethiopia", "Addis Ababa", "Birr"),
    ("Finland", "Helsinki", "Euro"), ("France", "Paris", "Euro"), ("Gabon", "Libreville", "Franc"),
    ("Gambia", "Banjul", "Dalasi"), ("Georgia", "Tbilisi", "Lari"), ("Germany", "Berlin", "Euro"),
    ("Ghana", "Accra", "Cedi"), ("Greece", "Athens", "Euro"), ("Guatemala", "Guatemala City", "Quetzal"),
    ("Guinea", "Conakry", "Franc"), ("Guinea-Bissau", "Bissau", "Franc"), ("Guyana", "Georgetown", "Dollar"),
    ("Haiti", "Port-au-Prince", "Gourde"), ("Honduras", "Tegucigalpa", "Lempira"), ("Hungary", "Budapest", "Forint"),
    ("Iceland", "Reykjavík", "Króna"), ("India", "New Delhi", "Rupee"), ("Iraq", "Baghdad", "Dinar"),
    ("Ireland", "Dublin", "Euro"), ("Italy", "Rome", "Euro"), ("Jamaica", "Kingston", "Dollar"),
    ("Japan", "Tokyo", "Yen"), ("Jordan", "Amman", "Dinar"), ("Kazakhstan", "Astana", "Tenge"),
    ("Kenya", "Nairobi", "Shilling"), ("Kuwait", "Kuwait City", "Dinar"), ("Kyrgyzstan", "Bishkek", "Som"),
    ("Laos", "Vientiane", "Kip"), ("Latvia", "Riga", "Euro"), ("Liberia", "Monrovia", "Dollar"),
    ("Libya", "Tripoli", "Dinar"), ("Liechtenstein", "Vaduz", "Franc"), ("Lithuania", "Vilnius", "Euro"),
    ("Luxembourg", "Luxembourg", "Euro"), ("Madagascar", "Antananarivo", "Ariary"),
    ("Malaysia", "Kuala Lumpur", "Ringgit"), ("Maldives", "Malé", "Rufiyaa"), ("Mali", "Bamako", "Franc"),
    ("Malta", "Valletta", "Euro"), ("Mauritius", "Port Louis", "Rupee"), ("Mexico", "Mexico City", "Peso"),
    ("Monaco", "Monaco", "Euro"), ("Morocco", "Rabat", "Dirham"), ("Myanmar", "Naypyidaw", "Kyat"),
    ("Nepal", "Kathmandu", "Rupee"), ("Netherlands", "Amsterdam", "Euro"), ("New Zealand", "Wellington", "Dollar"),
    ("Nicaragua", "Managua", "Córdoba"), ("Niger", "Niamey", "Franc"), ("Nigeria", "Abuja", "Naira"),
    ("North Korea", "Pyongyang", "Won"), ("North Macedonia", "Skopje", "Denar"), ("Norway", "Oslo", "Krone"),
    ("Oman", "Muscat", "Rial"), ("Pakistan", "Islamabad", "Rupee"), ("Panama", "Panama City", "Balboa"),
    ("Paraguay", "Asunción", "Guaraní"), ("Peru", "Lima", "Sol"), ("Philippines", "Manila", "Peso"),
    ("Poland", "Warsaw", "Złoty"), ("Portugal", "Lisbon", "Euro"), ("Qatar", "Doha", "Riyal"),
    ("Republic of the Congo", "Brazzaville", "Franc"), ("Romania", "Bucharest", "Leu"), ("Russia", "Moscow", "Ruble"),
    ("Rwanda", "Kigali", "Franc"), ("São Tomé and Príncipe", "São Tomé", "Dobra"),
    ("Saudi Arabia", "Riyadh", "Riyal"), ("Senegal", "Dakar", "Franc"), ("Serbia", "Belgrade", "Dinar"),
    ("Seychelles", "Victoria", "Rupee"), ("Sierra Leone", "Freetown", "Leone"), ("Singapore", "Singapore", "Dollar"),
    ("Slovakia", "Bratislava", "Euro"), ("Slovenia", "Ljubljana", "Euro"), ("Somalia", "Mogadishu", "Shilling"),
    ("South Korea", "Seoul", "Won"), ("South Sudan", "Juba", "Pound"), ("Spain", "Madrid", "Euro"),
    ("Suriname", "Paramaribo", "Dollar"), ("Sweden", "Stockholm", "Krona"), ("Switzerland", "Bern", "Franc"),
    ("Syria", "Damascus", "Pound"), ("Tanzania", "Dodoma", "Shilling"), ("Thailand", "Bangkok", "Baht"),
    ("Togo", "Lomé", "Franc"), ("Trinidad and Tobago", "Port of Spain", "Dollar"), ("Tunisia", "Tunis", "Dinar"),
    ("Turkey", "Ankara", "Lira"), ("Ukraine", "Kyiv", "Hryvnia"), ("United Arab Emirates", "Abu Dhabi", "Dirham"),
    ("United States", "Washington, D.C.", "Dollar"), ("Uruguay", "Montevideo", "Peso"), ("Vietnam", "Hanoi", "Dong"),
]

# (common name, Latin binomial, term for the young)
ANIMALS = [
    ("Gray Wolf", "Canis lupus", "pup"), ("Coyote", "Canis latrans", "pup"),
    ("African Wild Dog", "Lycaon pictus", "pup"), ("Maned Wolf", "Chrysocyon brachyurus", "pup"),
    ("Red Fox", "Vulpes vulpes", "kit"), ("Arctic Fox", "Vulpes lagopus", "kit"), ("Fennec Fox", "Vulpes zerda", "kit"),
    ("Lion", "Panthera leo", "cub"), ("Tiger", "Panthera tigris", "cub"), ("Leopard", "Panthera pardus", "cub"),
    ("Jaguar", "Panthera onca", "cub"), ("Snow Leopard", "Panthera uncia", "cub"), ("Cheetah", "Acinonyx jubatus", "cub"),
    ("Cougar", "Puma concolor", "cub"), ("Bobcat", "Lynx rufus", "kitten"), ("Eurasian Lynx", "Lynx lynx", "kitten"),
    ("Ocelot", "Leopardus pardalis", "kitten"), ("Serval", "Leptailurus serval", "kitten"),
    ("Domestic Cat", "Felis catus", "kitten"),
    ("Brown Bear", "Ursus arctos", "cub"), ("American Black Bear", "Ursus americanus", "cub"),
    ("Polar Bear", "Ursus maritimus", "cub"), ("Giant Panda", "Ailuropoda melanoleuca", "cub"),
    ("Sloth Bear", "Melursus ursinus", "cub"),
    ("Red Panda", "Ailurus fulgens", "cub"), ("Raccoon", "Procyon lotor", "kit"),
    ("Striped Skunk", "Mephitis mephitis", "kit"), ("European Badger", "Meles meles", "cub"),
    ("Wolverine", "Gulo gulo", "kit"), ("Sea Otter", "Enhydra lutris", "pup"),
    ("North American River Otter", "Lontra canadensis", "pup"), ("Stoat", "Mustela erminea", "kit"),
    ("Ferret", "Mustela furo", "kit"), ("Meerkat", "Suricata suricatta", "pup"),
    ("Spotted Hyena", "Crocuta crocuta", "cub"),
    ("Harbor Seal", "Phoca vitulina", "pup"), ("Grey Seal", "Halichoerus grypus", "pup"),
    ("Northern Elephant Seal", "Mirounga angustirostris", "pup"),
    ("California Sea Lion", "Zalophus californianus", "pup"), ("Walrus", "Odobenus rosmarus", "calf"),
    ("Common Bottlenose Dolphin", "Tursiops truncatus", "calf"), ("Common Dolphin", "Delphinus delphis", "calf"),
    ("Orca", "Orcinus orca", "calf"), ("Blue Whale", "Balaenoptera musculus", "calf"),
    ("Humpback Whale", "Megaptera novaeangliae", "calf"), ("Sperm Whale", "Physeter macrocephalus", "calf"),
    ("Beluga Whale", "Delphinapterus leucas", "calf"), ("Narwhal", "Monodon monoceros", "calf"),
    ("Gray Whale", "Eschrichtius robustus", "calf"), ("Harbour Porpoise", "Phocoena phocoena", "calf"),
    ("West Indian Manatee", "Trichechus manatus", "calf"), ("Dugong", "Dugong dugon", "calf"),
    ("African Bush Elephant", "Loxodonta africana", "calf"), ("Asian Elephant", "Elephas maximus", "calf"),
    ("Giraffe", "Giraffa camelopardalis", "calf"), ("Okapi", "Okapia johnstoni", "calf"),
    ("Hippopotamus", "Hippopotamus amphibius", "calf"), ("White Rhinoceros", "Ceratotherium simum", "calf"),
    ("Black Rhinoceros", "Diceros bicornis", "calf"), ("Indian Rhinoceros", "Rhinoceros unicornis", "calf"),
    ("Lowland Tapir", "Tapirus terrestris", "calf"),
    ("Plains Zebra", "Equus quagga", "foal"), ("Grévy's Zebra", "Equus grevyi", "foal"),
    ("Asiatic Wild Ass", "Equus hemionus", "foal"),
    ("American Bison", "Bison bison", "calf"), ("European Bison", "Bison bonasus", "calf"),
    ("Cattle", "Bos taurus", "calf"), ("African Buffalo", "Syncerus caffer", "calf"),
    ("Water Buffalo", "Bubalus bubalis", "calf"), ("Blue Wildebeest", "Connochaetes taurinus", "calf"),
    ("Greater Kudu", "Tragelaphus strepsiceros", "calf"), ("Gemsbok", "Oryx gazella", "calf"),
    ("Muskox", "Ovibos moschatus", "calf"), ("Domestic Sheep", "Ovis aries", "lamb"),
    ("Bighorn Sheep", "Ovis canadensis", "lamb"), ("Domestic Goat", "Capra hircus", "kid"),
    ("Alpine Ibex", "Capra ibex", "kid"), ("Mountain Goat", "Oreamnos americanus", "kid"),
    ("Moose", "Alces alces", "calf"), ("Reindeer", "Rangifer tarandus", "calf"), ("Red Deer", "Cervus elaphus", "calf"),
    ("Elk", "Cervus canadensis", "calf"), ("White-tailed Deer", "Odocoileus virginianus", "fawn"),
    ("Mule Deer", "Odocoileus hemionus", "fawn"), ("Roe Deer", "Capreolus capreolus", "fawn"),
    ("Fallow Deer", "Dama dama", "fawn"), ("Pronghorn", "Antilocapra americana", "fawn"),
    ("Wild Boar", "Sus scrofa", "piglet"), ("Common Warthog", "Phacochoerus africanus", "piglet"),
    ("Dromedary", "Camelus dromedarius", "calf"), ("Bactrian Camel", "Camelus bactrianus", "calf"),
    ("Llama", "Lama glama", "cria"), ("Guanaco", "Lama guanicoe", "cria"), ("Vicuña", "Vicugna vicugna", "cria"),
    ("Eastern Grey Kangaroo", "Macropus giganteus", "joey"), ("Koala", "Phascolarctos cinereus", "joey"),
    ("Common Wombat", "Vombatus ursinus", "joey"), ("Tasmanian Devil", "Sarcophilus harrisii", "joey"),
    ("Virginia Opossum", "Didelphis virginiana", "joey"),
    ("Common Brushtail Possum", "Trichosurus vulpecula", "joey"), ("Sugar Glider", "Petaurus breviceps", "joey"),
    ("Quokka", "Setonix brachyurus", "joey"),
    ("Platypus", "Ornithorhynchus anatinus", "puggle"), ("Short-beaked Echidna", "Tachyglossus aculeatus", "puggle"),
    ("European Rabbit", "Oryctolagus cuniculus", "kit"), ("European Hare", "Lepus europaeus", "leveret"),
    ("Snowshoe Hare", "Lepus americanus", "leveret"), ("Eastern Cottontail", "Sylvilagus floridanus", "kit"),
    ("House Mouse", "Mus musculus", "pup"), ("Brown Rat", "Rattus norvegicus", "pup"),
    ("Golden Hamster", "Mesocricetus auratus", "pup"), ("Guinea Pig", "Cavia porcellus", "pup"),
    ("Capybara", "Hydrochoerus hydrochaeris", "pup"), ("North American Beaver", "Castor canadensis", "kit"),
    ("North American Porcupine", "Erethizon dorsatum", "porcupette"),
    ("Eastern Gray Squirrel", "Sciurus carolinensis", "kit"), ("Red Squirrel", "Sciurus vulgaris", "kit"),
    ("Black-tailed Prairie Dog", "Cynomys ludovicianus", "pup"),
    ("European Hedgehog", "Erinaceus europaeus", "hoglet"), ("European Mole", "Talpa europaea", "pup"),
    ("Little Brown Bat", "Myotis lucifugus", "pup"), ("Common Vampire Bat", "Desmodus rotundus", "pup"),
    ("Nine-banded Armadillo", "Dasypus novemcinctus", "pup"), ("Giant Anteater", "Myrmecophaga tridactyla", "pup"),
    ("Chimpanzee", "Pan troglodytes", "infant"), ("Western Gorilla", "Gorilla gorilla", "infant"),
    ("Bornean Orangutan", "Pongo pygmaeus", "infant"), ("Mandrill", "Mandrillus sphinx", "infant"),
    ("Olive Baboon", "Papio anubis", "infant"), ("Rhesus Macaque", "Macaca mulatta", "infant"),
]

# (food, iconic colour, flavour descriptor)
FOODS = [
    # red
    ("Strawberry", "red", "sweet"), ("Cherry", "red", "sweet"), ("Raspberry", "red", "sweet"),
    ("Cranberry", "red", "tart"), ("Red Currant", "red", "tart"), ("Pomegranate", "red", "tart"),
    ("Tomato", "red", "tangy"), ("Chili Pepper", "red", "spicy"), ("Cayenne Pepper", "red", "spicy"),
    ("Radish", "red", "peppery"), ("Apple", "red", "sweet"), ("Lychee", "red", "sweet"),
    ("Rambutan", "red", "sweet"), ("Lingonberry", "red", "tart"), ("Kimchi", "red", "spicy"),
    ("Salami", "red", "salty"), ("Ketchup", "red", "tangy"),
    # yellow
    ("Lemon", "yellow", "sour"), ("Banana", "yellow", "sweet"), ("Pineapple", "yellow", "sweet"),
    ("Corn", "yellow", "sweet"), ("Starfruit", "yellow", "tart"), ("Quince", "yellow", "tart"),
    ("Yuzu", "yellow", "sour"), ("Mustard", "yellow", "tangy"), ("Custard", "yellow", "sweet"),
    ("Polenta", "yellow", "mild"),
    # orange
    ("Orange", "orange", "sweet"), ("Tangerine", "orange", "sweet"), ("Clementine", "orange", "sweet"),
    ("Apricot", "orange", "sweet"), ("Persimmon", "orange", "sweet"), ("Carrot", "orange", "sweet"),
    ("Pumpkin", "orange", "sweet"), ("Cantaloupe", "orange", "sweet"), ("Kumquat", "orange", "tart"),
    ("Papaya", "orange", "sweet"), ("Habanero", "orange", "spicy"), ("Sea Buckthorn", "orange", "sour"),
    # green
    ("Lime", "green", "sour"), ("Kiwi", "green", "tangy"), ("Avocado", "green", "mild"),
    ("Cucumber", "green", "mild"), ("Broccoli", "green", "bitter"), ("Brussels Sprout", "green", "bitter"),
    ("Kale", "green", "bitter"), ("Spinach", "green", "earthy"), ("Celery", "green", "mild"),
    ("Zucchini", "green", "mild"), ("Lettuce", "green", "mild"), ("Pea", "green", "sweet"),
    ("Asparagus", "green", "earthy"), ("Okra", "green", "mild"), ("Artichoke", "green", "nutty"),
    ("Arugula", "green", "peppery"), ("Watercress", "green", "peppery"), ("Honeydew", "green", "sweet"),
    ("Jalapeño", "green", "spicy"), ("Wasabi", "green", "pungent"), ("Pickle", "green", "sour"),
    ("Granny Smith Apple", "green", "tart"), ("Edamame", "green", "nutty"), ("Pistachio", "green", "nutty"),
    ("Collard Greens", "green", "bitter"), ("Bok Choy", "green", "mild"), ("Cabbage", "green", "mild"),
    ("Matcha", "green", "bitter"), ("Chayote", "green", "mild"), ("Tomatillo", "green", "tart"),
    ("Gooseberry", "green", "sour"), ("Snow Pea", "green", "sweet"), ("Dandelion Greens", "green", "bitter"),
    ("Rapini", "green", "bitter"), ("Mustard Greens", "green", "peppery"), ("Poblano", "green", "mild"),
    # purple, blue
    ("Eggplant", "purple", "bitter"), ("Plum", "purple", "sweet"), ("Concord Grape", "purple", "sweet"),
    ("Fig", "purple", "sweet"), ("Passion Fruit", "purple", "tart"), ("Mangosteen", "purple", "sweet"),
    ("Ube", "purple", "sweet"), ("Damson", "purple", "tart"), ("Blueberry", "blue", "sweet"),
    # pink
    ("Dragon Fruit", "pink", "mild"), ("Cotton Candy", "pink", "sweet"), ("Prosciutto", "pink", "salty"),
    ("Ham", "pink", "salty"), ("Smoked Salmon", "pink", "salty"), ("Shrimp", "pink", "mild"),
    # brown
    ("Date", "brown", "sweet"), ("Potato", "brown", "mild"), ("Shiitake", "brown", "earthy"),
    ("Chestnut", "brown", "nutty"), ("Walnut", "brown", "nutty"), ("Hazelnut", "brown", "nutty"),
    ("Almond", "brown", "nutty"), ("Pecan", "brown", "nutty"), ("Peanut", "brown", "nutty"),
    ("Chocolate", "brown", "sweet"), ("Soy Sauce", "brown", "salty"), ("Miso", "brown", "salty"),
    ("Pretzel", "brown", "salty"), ("Coffee", "brown", "bitter"), ("Tamarind", "brown", "sour"),
    ("Maple Syrup", "brown", "sweet"), ("Caramel", "brown", "sweet"), ("Sapodilla", "brown", "sweet"),
    ("Gravy", "brown", "savory"), ("Porcini", "brown", "earthy"), ("Cocoa", "brown", "bitter"),
    ("Beef Jerky", "brown", "salty"),
    # white
    ("Garlic", "white", "pungent"), ("Cauliflower", "white", "mild"), ("Parsnip", "white", "sweet"),
    ("Horseradish", "white", "pungent"), ("Rice", "white", "mild"), ("Tofu", "white", "mild"),
    ("Marshmallow", "white", "sweet"), ("Feta", "white", "salty"), ("Mozzarella", "white", "mild"),
    ("Yogurt", "white", "tangy"), ("Daikon", "white", "mild"), ("Meringue", "white", "sweet"),
    ("Bean Sprout", "white", "mild"), ("Enoki", "white", "mild"), ("Whipped Cream", "white", "sweet"),
    # black
    ("Blackberry", "black", "sweet"), ("Truffle", "black", "earthy"), ("Caviar", "black", "salty"),
]

TASKS = [
    # id, name, domain, instruction, task token, table, answer column
    ("country-capital", "Country-Capital", "country", "The capital city of the country:", "capital", COUNTRIES, 1),
    ("country-currency", "Country-Currency", "country",
     "The last word of the official currency of the country:", "currency", COUNTRIES, 2),
    ("animal-latin", "Animal-Latin", "animal", "The scientific name of the animal's species in latin:", "species",
     ANIMALS, 1),
    ("animal-young", "Animal-Young", "animal", "The term for the baby of the animal:", "baby", ANIMALS, 2),
    ("food-color", "Food-Color", "food", "The color of the food:", "color", FOODS, 1),
    ("food-flavor", "Food-Flavor", "food", "The flavor descriptor of the food:", "flavor", FOODS, 2),
]


def check_table(name: str, table: list) -> None:
    entities = [row[0] for row in table]
    if len(entities) != N_ITEMS:
        raise SystemExit(f"{name}: expected {N_ITEMS} entities, found {len(entities)}; edit the table.")
    dupes = sorted({e for e in entities if entities.count(e) > 1})
    if dupes:
        raise SystemExit(f"{name}: duplicate entities {dupes}; keep each entity once.")
    for row in table:
        if len(row) != 3 or not all(isinstance(v, str) and v.strip() == v and v for v in row):
            raise SystemExit(f"{name}: malformed row {row!r}; expected three non-empty trimmed strings.")


def val_entities(domain: str, entities: list) -> set:
    rng = random.Random(f"{SEED}:{domain}")
    return set(rng.sample(sorted(entities), N_VAL))


def render(task: dict) -> str:
    """JSON with one item per line: stable, diff-friendly, UTF-8."""
    head = {k: v for k, v in task.items() if k != "items"}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append('  "items": [')
    items = [json.dumps(it, ensure_ascii=False) for it in task["items"]]
    lines += [f"    {s}," for s in items[:-1]] + [f"    {items[-1]}"]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def build(out_dir: Path = OUT_DIR) -> list:
    written = []
    for name, table in (("COUNTRIES", COUNTRIES), ("ANIMALS", ANIMALS), ("FOODS", FOODS)):
        check_table(name, table)
    for task_id, name, domain, instruction, token, table, col in TASKS:
        val = val_entities(domain, [row[0] for row in table])
        items = [{"input": row[0], "answer": row[col], "split": "val" if row[0] in val else "test"} for row in table]
        task = {"id": task_id, "name": name, "domain": domain, "instruction": instruction,
                "task_token": token, "items": items}
        path = out_dir / f"{task_id}.json"
        path.write_text(render(task), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build():
        print("wrote", p)
