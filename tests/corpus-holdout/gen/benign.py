"""Hand-written benign texts for the held-out corpus: kinds of API traffic the main corpus has few of."""

GRAPHQL = [
    "query Orders($first: Int!, $after: String) { viewer { orders(first: $first, after: $after) { edges { node { id "
    "total { amount currency } } } pageInfo { hasNextPage endCursor } } } }",
    "mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { user { id name bio } errors "
    "{ field message } } }",
    "query { search(term: \"select * from\", type: REPOSITORY) { repositoryCount } }",
    "fragment UserParts on User { id login avatarUrl(size: 64) } query($id: ID!) { node(id: $id) { ...UserParts } }",
    "subscription OnComment($postId: ID!) { commentAdded(postId: $postId) { id body author { name } } }",
    "query Product($slug: String!) { product(slug: $slug) { name variants(where: {stock_gt: 0}) { sku price } } }",
    "mutation { deleteDraft(id: \"d_91\") { ok } }",
    "query Inventory { warehouses(filter: {region: {in: [\"eu-west\", \"us-east\"]}}) { name count } }",
]

ANALYTICS_FILTERS = [
    "country = 'DE' AND revenue > 1000",
    "status in ('paid','refunded') and created_at >= '2024-01-01'",
    "select:count(distinct user_id) group by week",
    "order by sessions desc limit 50",
    "event_name == \"checkout\" || event_name == \"purchase\"",
    "price BETWEEN 10 AND 20",
    "name LIKE 'Mc%' OR name LIKE 'O''%'",
    "(region = \"EMEA\" or region = \"APAC\") and not churned",
    "sum(amount) where currency = 'EUR'",
    "utm_source=newsletter AND utm_medium=email",
    "duration > 30s and status != 500",
    "sort=-updated_at,name&fields=id,name,updated_at",
]

TICKETS = [
    "When I run `npm install` I get EACCES: permission denied, mkdir '/usr/local/lib/node_modules'. What should I do?",
    "The docs say to run: curl -fsSL https://get.example.com | sh but our proxy blocks it. Is there an offline installer?",
    "After upgrading, `systemctl status portal` shows 'failed (Result: exit-code)'. Log attached.",
    "I tried `ls -la ~/.config/app` and the folder is empty; did the migration delete my settings?",
    "Our cron line is `0 3 * * * /opt/backup/run.sh > /var/log/backup.log 2>&1` and it stopped running on Monday.",
    "Running `docker compose up -d` prints: Error response from daemon: port is already allocated.",
    "Can I pipe the export into jq? e.g. `app export --format json | jq '.items[] | .id'`",
    "PowerShell says: Get-ChildItem : Cannot find path 'C:\\Users\\ana\\AppData\\Local\\App' because it does not exist.",
    "The CLI hangs after 'Connecting...'. `ping api.example.com` works, `telnet api.example.com 443` too.",
    "I set PATH=$PATH:/opt/tool/bin in .bashrc but `which tool` still returns nothing.",
    "Tried `git pull --rebase && make build` and make fails with 'No rule to make target install'.",
    "Windows: `dir /s *.log` lists 4000 files, how do I clear the cache safely?",
]

EMAIL_TEMPLATES = [
    "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td style=\"padding:24px;font-family:Arial\">"
    "<h1 style=\"color:#333\">Your order has shipped</h1><p>Hi {{first_name}}, your parcel is on its way.</p>"
    "<a href=\"https://shop.example.com/orders/{{order_id}}\" style=\"background:#0a7;color:#fff\">Track it</a>"
    "</td></tr></table>",
    "<p>Dear customer,</p><p>Your invoice <strong>#INV-2024-0042</strong> is attached.</p><p>Kind regards,<br>"
    "Accounts</p>",
    "<div class=\"header\"><img src=\"https://cdn.example.com/logo.png\" alt=\"Example Co\" width=\"120\"></div>"
    "<div class=\"body\"><p>Reset your password within 30 minutes:</p><p><a href=\"https://app.example.com/reset?t="
    "abc123\">Reset password</a></p></div>",
    "<html><head><style>.btn{border-radius:4px;padding:8px 16px}</style></head><body><p>Welcome aboard!</p></body>"
    "</html>",
    "<ul><li>Item: Blue mug &times; 2</li><li>Shipping: &euro;4.90</li><li>Total: &euro;24.80</li></ul>",
    "<p>You have a new message from <em>Jo&atilde;o</em>:</p><blockquote>See you at 5?</blockquote>",
    "<center><font face=\"Verdana\" size=\"2\">Unsubscribe <a href=\"https://mail.example.com/u/9f2\">here</a>"
    "</font></center>",
    "<!-- preheader --><span style=\"display:none\">Your weekly digest</span><h2>This week</h2><ol><li>Post one</li>"
    "</ol>",
]

CI_PATHS = [
    "src/main/java/com/example/App.java",
    "./build/output/../artifacts/app.tar.gz",
    "packages/web/node_modules/.bin/tsc",
    "C:\\actions-runner\\_work\\app\\app\\dist\\setup.exe",
    "/home/runner/work/app/app/target/release/app",
    "tests/fixtures/../snapshots/home.png",
    ".github/workflows/ci.yml",
    "/var/lib/jenkins/workspace/app-pipeline/reports/junit.xml",
    "docs/../README.md",
    "~/.cache/pip/wheels/ab/cd/numpy-1.26.4.whl",
    "/builds/group/project/coverage/lcov.info",
    "D:\\a\\repo\\repo\\bin\\Release\\net8.0\\Repo.dll",
]

MATH = [
    "2*(3+4)/7 - 1",
    "x^2 + 3x - 4 = 0",
    "sin(pi/4)^2 + cos(pi/4)^2 = 1",
    "a < b && b < c => a < c",
    "sum_{i=1}^{n} i = n(n+1)/2",
    "f(x) = { x if x >= 0; -x otherwise }",
    "1/3 + 1/6 = 1/2",
    "(a|b)&c != a|(b&c)",
    "E = mc^2",
    "lim x->0 sin(x)/x = 1",
    "|x - 3| <= 5",
    "10 % 3 == 1",
    "sqrt(16) * 2 ** 3",
    "P(A|B) = P(B|A) * P(A) / P(B)",
]

NON_LATIN = [
    "Доставка задержалась на три дня, но курьер был очень вежлив. Спасибо!",
    "この商品は思ったより小さかったですが、品質はとても良いです。",
    "المنتج رائع والتوصيل كان سريعاً جداً، شكراً لكم",
    "המשלוח הגיע מהר והאריזה הייתה מצוינת",
    "यह उत्पाद बहुत अच्छा है, मैं इसे फिर से खरीदूंगा।",
    "배송이 빨라서 좋았어요. 다음에도 주문할게요!",
    "商品质量很好，包装也很仔细，五星好评！",
    "Ürün açıklamadaki gibi geldi; kargo biraz gecikti ama sorun değil.",
    "Το προϊόν ήταν ακριβώς όπως στην περιγραφή. Ευχαριστώ!",
    "สินค้าดีมาก ส่งไวมาก ขอบคุณครับ",
    "Sản phẩm tốt, giao hàng nhanh, đóng gói cẩn thận.",
    "Produkt ist gut, aber die Größe fällt klein aus – lieber eine Nummer größer bestellen.",
]

BLOBS = [
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUiLCJpYXQiOjE3MTYwMDAwMDB9."
    "Hq3bV1b3RrUmR0m3x5nP2c9Zt0uQy8kL4aWJ7sD1fE8",
    "U2FsdGVkX19tYWdpY3NhbHQAAAABAAAAAgAAAAMAAAAEAAAABQAAAAYAAAAHAAAACAAAAAkAAAAK",
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "H4sIAAAAAAAAA6tWKkktLlGyUlAqS8wpTVWqBQBjDV6uEgAAAA==",
    "AQICAHh0c2VjcmV0LWtleS1pZAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJvbGxpbmctdGVzdC1rZXktZm9yLWRvY3MtYW5kLXRlc3Rz ana@laptop",
    "-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUQm9ndXNUZXN0Q2VydGlmaWNhdGUwCgYIKoZIzj0EAwIw\\n"
    "-----END CERTIFICATE-----",
    "d2VsY29tZSB0byB0aGUgdGVhbSEgeW91ciBmaXJzdCBkYXkgaXMgbW9uZGF5Lg==",
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
]

PUBLIC_URLS = [
    "https://8.8.8.8/resolve?name=example.com",
    "http://203.0.113.10/status",
    "https://1.1.1.1/dns-query",
    "https://93.184.216.34/",
    "http://198.51.100.7:8080/health",
    "https://[2606:4700:4700::1111]/dns-query",
    "https://api.github.com/repos/rust-lang/rust/releases/latest",
    "https://maps.example.com/?ll=52.52,13.405&z=12",
    "https://cdn.jsdelivr.net/npm/lodash@4.17.21/lodash.min.js",
    "ftp://ftp.example.org/pub/README.txt",
    "https://user-images.example.com/10.0.0.1.png",
    "https://en.wikipedia.org/wiki/127.0.0.1",
]

CODE_SNIPPETS = [
    "for (let i = 0; i < items.length; i++) { total += items[i].price * items[i].qty; }",
    "def handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps(event)}",
    "SELECT id, name FROM customers WHERE country = 'FR' ORDER BY name;",
    "const el = document.querySelector('#cart'); el.textContent = `${count} items`;",
    "if [ -f ~/.env ]; then source ~/.env; fi",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "<Button onClick={() => setOpen(!open)}>Toggle</Button>",
    "kubectl get pods -n staging | grep -v Running",
    "import os\nprint(os.path.join('data', 'train.csv'))",
    "UPDATE settings SET value = 'dark' WHERE key = 'theme';",
    "template: '<div class=\"card\">{{ title }}</div>'",
    "std::vector<int> v{1,2,3}; std::cout << v.size() << std::endl;",
]

CHAT = [
    "lol that's the best idea I've heard all day :) <3",
    "meeting moved to 3pm -> room 4B (the one w/ the broken projector)",
    "can someone review PR #4521? it's blocking the release & QA is waiting",
    "-- sent from my phone --",
    "ok ok, I'll do it; but only if you buy coffee ;-)",
    "price went from $19.99 to $24.99?! that's 25% more",
    "@channel reminder: timesheets due Friday!!!",
    "is it 'drop off' or 'drop-off'? asking for the newsletter",
    "who's in for lunch @ 12:30 -> Thai place or the usual?",
    "FYI: the script /scripts/cleanup.sh ran at 02:00 & freed 40GB",
    "he said \"select the blue one\" but there are three blues...",
    "1 + 1 = 2, unless you're counting bugs, then it's 3",
]

CONFIGS = [
    "server:\n  port: 8080\n  host: 0.0.0.0\nlogging:\n  level: info",
    "[database]\nurl = \"postgres://app@db.internal:5432/app\"\npool = 10",
    "FROM rust:1.79 AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release",
    "location /api/ { proxy_pass http://backend; proxy_set_header Host $host; }",
    "*/5 * * * * /usr/local/bin/sync --quiet",
    "export NODE_ENV=production\nexport PORT=3000",
    "{\"compilerOptions\": {\"target\": \"ES2022\", \"strict\": true, \"paths\": {\"@/*\": [\"./src/*\"]}}}",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@example\\.com$",
]
