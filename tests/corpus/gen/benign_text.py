"""Hand-written benign content: the things real API clients send that naive WAFs mistake for attacks."""

PROSE = [
    "I've ordered from them three times and it's always arrived on time. Can't complain!",
    "Don't buy the \"large\" size - it's more like a medium. I'd go one up.",
    "The manager said: 'we'll refund you by Friday' - it's now Tuesday and nothing.",
    "My kids' favourite. We've had it since 2019 (still works!) and it's survived two moves.",
    "Five stars; would've given six if I could. The strap's a bit stiff at first, that's all.",
    "It's O'Neill, not O'Neil - please fix the name on my invoice #4471.",
    "\"Best coffee in town\", says my wife. I say it's the second best; the first is my mum's.",
    "Delivery guy left it at no. 12 instead of 21... again. Neighbour's lovely though :)",
    "Can you add a 'notes' field? e.g. \"leave by the back door\" or 'ring twice'.",
    "We're a team of 5 & we'd like the annual plan - is there a discount for non-profits?",
    "Works with macOS 14 & Windows 11; didn't test on Linux (Ubuntu 22.04?) yet.",
    "Half the price of the one at Smith & Sons, and twice as good. 10/10.",
    "Ordered 2x the 500g bag; got 1x 1kg instead. Same thing, right? Not quite - I wanted two.",
    "Hi! I'm trying to cancel order #A-20931 but the button says \"can't cancel shipped orders\".",
    "Love it <3 although the box was a bit battered.",
    "It's a 'one size fits all' that fits... nobody in my family. Returning it.",
    "Rock 'n' roll t-shirt, washes well at 40°C, colour hasn't faded (yet).",
    "Size chart says 38\" chest = M; I'm 39\" and the M was perfect.",
    "My order's stuck at 'processing' since 3 days; ref: 88-1192-X. Any update?",
    "Please don't call before 9 a.m. - we've a newborn. Thanks & regards, Jo.",
    "The recipe calls for 1/2 cup sugar; I used 1/3 and it's still sweet enough.",
    "Is it dishwasher-safe? The leaflet says \"hand wash only\" but the website says otherwise.",
    "Our office (3rd floor, rooms 301-305) needs 12 chairs by the 15th; can you do it?",
    "You're charging VAT twice: once on the items and once on delivery (20% + 20%?).",
    "Great service - Chloë & Zoë at the Paris store were incredibly helpful.",
    "I'd like to update my address to: Flat 2, 14 King's Road, London SW3 4RP.",
    "The 'Buy now' button doesn't work on Safari; 'Add to cart' does. Weird, huh?",
    "Ten out of ten; wouldn't change a thing... except maybe the colour (it's more teal than blue).",
    "Why's the shipping £4.99 when the site said 'free over £30'? My basket was £31.50.",
    "Customer wrote: \"the lid won't close\"; replacement sent under warranty (case 5531).",
]

SQL_WORDS = [
    "select a size", "union jack cushion", "drop-down menu not working", "order by price low to high",
    "how to delete my account", "insert coin arcade machine", "update shipping address", "where is my order",
    "select all that apply", "union station chicago hotels", "drop shoulder sweater", "table and chairs set",
    "from paris with love dvd", "join the waiting list", "having trouble logging in", "group by colour",
    "truncate long product names", "1=1 in boolean algebra", "is x or 1=1 always true in logic class",
    "select committee report 2023", "exec chair for the board", "null and void clause", "sleep mask silk",
    "case study template", "char siu pork recipe", "benchmark results 2024 laptops", "alter ego costume",
    "create account with google", "grant application deadline", "declare variables in C", "shutdown timer windows",
    "cast iron skillet", "Bobby Tables comic", "values and ethics course", "like new condition", "and/or logic gates",
    "if 1=1 then yes", "the union of two sets A and B", "wait for delivery", "delay compensation claim",
]

CODE = [
    ("javascript", "const total = items.reduce((sum, i) => sum + i.price * i.qty, 0);\nconsole.log(`Total: ${total}`);"),
    ("javascript", "document.getElementById('app').textContent = user.name;"),
    ("javascript", "fetch('/api/orders?status=open').then(r => r.json()).then(data => render(data));"),
    ("javascript", "if (a === null || typeof a === 'undefined') { return []; }"),
    ("python", "def greet(name: str) -> str:\n    return f\"Hello, {name}!\"\n\nprint(greet('world'))"),
    ("python", "with open('report.csv', newline='') as f:\n    for row in csv.DictReader(f):\n        print(row['email'])"),
    ("python", "import os\nBASE_DIR = os.path.dirname(os.path.abspath(__file__))"),
    ("python", "users = [u for u in users if u.active and u.age >= 18]"),
    ("python", "subprocess.run(['git', 'status'], check=True)"),
    ("sql", "SELECT id, name, email FROM customers WHERE country = 'DE' ORDER BY name LIMIT 50;"),
    ("sql", "SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nLEFT JOIN orders o ON o.customer_id = c.id\n"
            "GROUP BY c.name\nHAVING COUNT(o.id) > 5;"),
    ("sql", "UPDATE products SET price = price * 1.1 WHERE category = 'books';"),
    ("sql", "CREATE INDEX idx_orders_created ON orders (created_at DESC);"),
    ("sql", "SELECT name FROM employees UNION SELECT name FROM contractors;"),
    ("shell", "curl -X POST https://api.example.com/v1/orders -H 'Content-Type: application/json' -d '{\"sku\": \"A1\"}'"),
    ("shell", "ls -la ~/projects && cd ~/projects/site"),
    ("shell", "docker run --rm -p 8080:80 nginx:1.25"),
    ("shell", "grep -rn \"TODO\" src/ | wc -l"),
    ("shell", "tail -f /var/log/app/server.log"),
    ("shell", "export PATH=\"$HOME/.cargo/bin:$PATH\""),
    ("rust", "fn main() {\n    let v: Vec<u32> = (1..=10).collect();\n    println!(\"{:?}\", v);\n}"),
    ("go", "if err != nil {\n\treturn fmt.Errorf(\"open %s: %w\", path, err)\n}"),
    ("html", "<button class=\"btn btn-primary\" type=\"submit\">Save</button>"),
    ("css", ".card > h2:first-child { margin: 0 0 .5rem; color: #333; }"),
    ("yaml", "services:\n  web:\n    image: myapp:latest\n    ports:\n      - \"8080:8080\""),
    ("regex", "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$"),
    ("java", "List<String> names = users.stream().map(User::getName).collect(Collectors.toList());"),
    ("php", "$total = array_sum(array_column($items, 'price'));"),
]

MARKDOWN = [
    "# Release notes\n\n## v2.3.0\n\n- Fixed the *checkout* bug ([#412](https://github.com/example/shop/issues/412))\n"
    "- Added `--dry-run` flag\n\n> Note: requires Node 18+",
    "## Setup\n\n1. Clone the repo\n2. Run `npm install`\n3. Copy `.env.example` to `.env`\n\n```bash\nnpm run dev\n```",
    "| Plan | Price | Seats |\n|------|-------|-------|\n| Basic | $9/mo | 1 |\n| Team | $49/mo | 10 |",
    "**Important:** don't share your API key. See the [auth guide](https://docs.example.com/auth) for details.",
    "- [x] design review\n- [ ] write tests\n- [ ] update `CHANGELOG.md`",
    "Use `SELECT * FROM orders` sparingly; prefer explicit columns.\n\n_Last updated: 2024-05-02_",
    "![diagram](https://cdn.example.com/img/arch-v2.png)\n\nThe gateway sits *in front of* the API.",
    "### FAQ\n\n**Q:** Can I pay by invoice?\n**A:** Yes - for orders over €500.",
    "Line one  \nLine two with a trailing double space.\n\n---\n\n~~old price~~ new price",
    "```python\nprint(\"hello\")\n```\n\nThat's all you need to get started!",
]

HTML_TEXT = [
    "<p>Hello <strong>team</strong>,</p><p>Please find the agenda below.</p>",
    "<ul><li>Milk</li><li>Eggs</li><li>Bread</li></ul>",
    "<p>Read our <a href=\"https://blog.example.com/spring-sale\">spring sale</a> announcement.</p>",
    "<h2>Shipping</h2><p>Orders ship within <em>2 business days</em>.</p>",
    "<p><img src=\"https://cdn.example.com/products/mug-blue.jpg\" alt=\"Blue mug\" width=\"320\"></p>",
    "<blockquote>It's the best purchase I've made this year.</blockquote>",
    "<table><tr><th>Size</th><th>Chest</th></tr><tr><td>M</td><td>96 cm</td></tr></table>",
    "<p>Price: <s>&pound;40</s> <b>&pound;29.99</b></p>",
    "<p style=\"text-align:center\">Thank you for your order!</p>",
    "<div class=\"note\"><p>Use code <code>SPRING24</code> at checkout.</p></div>",
    "<p>Contact us at <a href=\"mailto:help@example.com\">help@example.com</a></p>",
    "<ol><li>Unbox</li><li>Charge for 2&nbsp;hours</li><li>Enjoy</li></ol>",
]

NON_LATIN = [
    "東京の美味しいラーメン屋を教えてください", "北京烤鸭 外卖", "서울 날씨 내일", "مرحبا، أريد تتبع طلبي",
    "שלום, ההזמנה שלי לא הגיעה", "Привет! Когда будет доставка?", "नमस्ते, मेरा ऑर्डर कहाँ है?", "สวัสดีครับ",
    "Ελληνικό γιαούρτι 1kg", "Zażółć gęślą jaźń", "Ça coûte combien ? 😊", "Grüße aus München 🍺",
    "🎉🎂 Happy birthday!!! 🎁", "配送先住所：大阪府大阪市北区1-2-3", "我的订单号是 20240501-8831",
    "Tiếng Việt có dấu", "İstanbul'da kargo ne zaman gelir?", "ქართული ენა", "Ørsted & Æble 💚",
    "👍🏽 works great", "Müller-Lüdenscheidt GmbH", "جزاك الله خيرا 🌙",
]

SEARCH = [
    "c++ tutorial", "c# vs java", "50% off", "AT&T phone plans", "rock & roll", "1/2 inch pipe",
    "what's 2+2?", "\"exact phrase\" search", "-exclude +include", "size:10..12", "men's shoes size 10",
    "usb-c to hdmi", "4k tv 55\"", "iphone 15 pro (case)", "price < 100", "#hashtag ideas", "email@ in address?",
    "node.js vs deno", "how to use grep -r", "<3 valentine gifts", "o'reilly books", "cafe's near me",
    "1 + 1 = 2 worksheet", "~/.bashrc example", "path/to/file", "the who - live at leeds", "x-men #1",
    "100 * 3 / 4", "r&d tax credit", "don't starve together", "a & b | c", "error: cannot find module",
    "`code` formatting", "[draft] meeting notes", "{curly braces} in latex", "$5 gift card", "smith; jones",
    "bread (sourdough)", "what is 'null'?", "java.lang.NullPointerException fix",
]

URLS = [
    "https://www.example.org/articles/2024/05/how-to-brew?utm_source=newsletter&utm_medium=email",
    "https://images.unsplash.com/photo-1503023345310-bd7c1de61c7d?w=800&q=80",
    "https://hooks.slack.com/services/T000/B000/XXXXXXXX", "https://api.github.com/repos/rust-lang/rust/issues",
    "https://en.wikipedia.org/wiki/Union_(set_theory)", "https://app.example.com/oauth/callback",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", "https://cdn.example.com/fonts/inter.woff2",
    "https://maps.google.com/?q=51.5007,-0.1246", "https://shop.example.com/p/blue-mug-350ml#reviews",
    "http://example.com/legacy/page.html", "https://docs.python.org/3/library/os.path.html",
    "https://feeds.example.net/podcast.rss", "https://partner.example.co.uk/webhooks/orders",
]

FILENAMES = [
    "Q1 report (final).pdf", "IMG_2043.HEIC", "my résumé v2.docx", "invoice-2024-05-001.pdf", "photo (1).jpg",
    "notes.txt", "budget_2024.xlsx", "Screenshot 2024-05-02 at 10.41.13.png", "data.tar.gz", "README.md",
    "src/main.rs", "docs/guides/getting-started.md", "2024/05/holiday.jpg", "backup_01.05.2024.zip",
    "contract - signed.pdf", "O'Brien family tree.pdf", "presentation_v3 [draft].pptx", "CV_Müller.pdf",
    "scan#2.tiff", "logo@2x.png",
]

EMAILS = ["jane.doe@example.com", "o'connor@example.ie", "first+tag@gmail.com", "x.y_z@sub.example.co.uk",
          "müller@example.de", "ops-team@example.org", "a@b.io", "support@shop.example.com"]

PASSWORDS = ["P@ssw0rd!2024", "correct horse battery staple", "Tr0ub4dor&3", "hunter2", "s3cr3t-Pa$$",
             "l0ng & s#cure; really", "ünïcödé-pässwörd", "(&*^%$#@!)", "O'Reilly1984", "\"quoted\"pass"]

NAMES = ["Jane Doe", "Seán O'Brien", "José Álvarez", "Zoë Smith-Jones", "李小龙", "محمد علي", "Anne-Marie d'Arcy",
         "D'Angelo Russell", "Bjørn Ødegaard", "Mary O'Neill", "Renée Zellweger", "Dr. Jekyll & Mr. Hyde Ltd."]

TEMPLATES = [
    "Hi {{first_name}}, your order {{order_id}} has shipped!",
    "Dear {{ customer.name }}, thanks for shopping with us.",
    "Your code is {{code}}. It expires in {{minutes}} minutes.",
    "Hello ${firstName}, welcome aboard!",
    "Reminder: {{event}} starts at {{time}}.",
    "Total due: {{amount}} {{currency}}",
]

GRAPHQL = [
    ("query GetOrder($id: ID!) { order(id: $id) { id total status items { sku qty } } }", {"id": "ord_8823"}),
    ("query Search($q: String!, $first: Int = 10) { products(query: $q, first: $first) { edges { node { id name "
     "price } } } }", {"q": "union jack mug", "first": 20}),
    ("mutation AddToCart($sku: String!, $qty: Int!) { addToCart(sku: $sku, qty: $qty) { cart { id count } } }",
     {"sku": "MUG-BLUE-350", "qty": 2}),
    ("mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { ok errors { field message } } }",
     {"input": {"displayName": "Seán O'Brien", "bio": "I'm a \"coffee\" person; tea's fine too."}}),
    ("{ viewer { login repositories(first: 5, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { name } } } }",
     {}),
    ("query { __typename }", {}),
    ("query Reviews($where: ReviewFilter) { reviews(where: $where) { id rating text } }",
     {"where": {"rating": {"gte": 4}, "product": "P-19"}}),
]

JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/schemas/order.json",
    "type": "object",
    "properties": {"id": {"type": "string"}, "total": {"$ref": "#/$defs/money"}},
    "$defs": {"money": {"type": "number", "minimum": 0}},
}

PRICES = ["$19.99", "€1.299,00", "£4.50", "¥1200", "USD 2,499.00", "$5 off", "CHF 12.–", "₹999", "1 000,50 zł"]

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24"><path d="M12 2L2 7l10 '
       '5 10-5-10-5z" fill="none" stroke="currentColor" stroke-width="2"/></svg>')

# Second batch.
PROSE += [
    "Bought this for my dad's 70th - he hasn't taken it off since. 'Best gift ever', he says.",
    "The instructions say \"tighten screw A\" but there's no screw A; there's B, C & D. Help?",
    "Couldn't log in on my phone (iOS 17); worked fine on the laptop though.",
    "I'm allergic to nuts - does the 'nut-free' bar get made on shared lines?",
    "Colour's exactly as pictured. Fabric's thinner than I'd hoped, but for £12 what d'you expect?",
    "Order arrived in 2 boxes; box 1 of 2 had the wrong item (size 8 instead of 10).",
    "We'd love a dark mode! My eyes can't take the white background at 2 a.m. :-)",
    "Is the 1/4\" drill bit set compatible with the older 18V model (DC-18)?",
    "Said 'next day delivery' - it took a week. Not the courier's fault, apparently; it's 'a system issue'.",
    "Thanks for sorting it so fast, Priya! You're a star ⭐",
]
SQL_WORDS += [
    "select * from my wishlist", "drop table lamp", "union of soviet socialist republics history book",
    "update firmware router", "insert tabs into word doc", "delete key not working keyboard", "waitfor the sun song",
    "case when baby sleeps", "between two ferns", "exec summary template", "1 or 2 bedrooms", "if x=1 or y=1",
]
CODE += [
    ("sql", "-- migration 0042\nALTER TABLE orders ADD COLUMN notes TEXT;\nDROP INDEX IF EXISTS idx_old_notes;"),
    ("sql", "SELECT id FROM a WHERE x = 1 OR y = 1;  -- both conditions"),
    ("shell", "rm -rf build/ && cargo build --release 2>&1 | tee build.log"),
    ("shell", "for f in *.png; do convert \"$f\" -resize 50% \"small_$f\"; done"),
    ("shell", "echo $(date +%F) >> deploy.log; ./deploy.sh --env=staging"),
    ("javascript", "const url = `${API_BASE}/orders/${id}?expand=items`;"),
    ("javascript", "el.addEventListener('click', () => { window.location.href = '/cart'; });"),
    ("html", "<script src=\"https://cdn.example.com/widget/v2.js\" async></script>\n<div id=\"shop-widget\"></div>"),
    ("python", "query = \"SELECT * FROM users WHERE id = %s\"\ncursor.execute(query, (user_id,))"),
    ("python", "template = env.get_template('invoice.html')\nhtml = template.render(order=order)"),
    ("jinja", "{% for item in order.items %}\n  <li>{{ item.name }} x {{ item.qty }}</li>\n{% endfor %}"),
    ("powershell", "Get-ChildItem -Path C:\\Logs -Filter *.log | Remove-Item -WhatIf"),
]
SEARCH += [
    "python if __name__ == '__main__'", "select multiple rows excel", "how to escape ' in sql", "mysql vs postgres",
    "../ meaning in paths", "curl | bash safe?", "what is ${HOME}", "<br> vs <br/>", "onclick vs addEventListener",
    "etc/hosts file windows", "log4j vulnerability explained", "jndi lookup disable", "what is xxe", "proto vs class",
]
NON_LATIN += [
    "Доставка в Санкт-Петербург", "カートに追加できません", "我想退货，因为尺寸不对", "طلب رقم ٤٥٦٧",
    "Ölçü tablosu nerede?", "Bánh mì ngon quá", "Ich hätte gern die Rechnung als PDF", "¿Dónde está mi pedido?",
    "ขอบคุณมากครับ 🙏", "Český název: Žluťoučký kůň",
]
URLS += [
    "https://www.example.com/search?q=select+union&lang=en", "https://github.com/example/repo/blob/main/src/lib.rs#L42",
    "https://s3.eu-west-1.amazonaws.com/bucket/uploads/2024/05/report.pdf", "https://192.0.2.10/status",
    "https://news.example.net/2024/05/01/markets-open-higher",
]
