using Portico.Catalog.Model;

namespace Portico.Catalog.Infrastructure;

/// <summary>The products a fresh catalog starts with: English and Korean names, prices in KRW.</summary>
internal static class CatalogSeedData
{
    /// <summary>New, untracked instances on every call: a context that saves them sets their ids.</summary>
    public static Product[] CreateProducts() =>
    [
        P("Wireless Keyboard", "무선 키보드", "Slim Bluetooth keyboard with a quiet scissor switch.", 49_000, 120, featured: true),
        P("Wireless Mouse", "무선 마우스", "Ergonomic 2.4 GHz mouse with a silent click.", 25_000, 200),
        P("Mechanical Keyboard", "기계식 키보드", "Tenkeyless keyboard with brown switches.", 129_000, 45, featured: true),
        P("Gaming Mouse Pad", "게이밍 마우스 패드", "Extra-large cloth pad with stitched edges.", 19_000, 300),
        P("USB-C Hub", "USB-C 허브", "Seven ports: HDMI, USB-A, SD and 100 W pass-through.", 59_000, 80),
        P("27-inch Monitor", "27인치 모니터", "QHD IPS panel at 165 Hz.", 389_000, 25, featured: true),
        P("Monitor Arm", "모니터 암", "Gas-spring arm for screens up to 32 inches.", 79_000, 40),
        P("Laptop Stand", "노트북 거치대", "Aluminium stand with six height settings.", 35_000, 150),
        P("Webcam", "웹캠", "1080p camera with a privacy shutter.", 69_000, 60),
        P("Noise-Cancelling Headphones", "노이즈 캔슬링 헤드폰", "Over-ear headphones with 30 hours of battery.", 329_000, 30, featured: true),
        P("Wireless Earbuds", "무선 이어폰", "Water-resistant earbuds with a charging case.", 159_000, 90),
        P("Bluetooth Speaker", "블루투스 스피커", "Portable speaker with 12 hours of play.", 89_000, 70),
        P("Portable Charger", "보조 배터리", "10,000 mAh power bank with fast charging.", 32_000, 250),
        P("Phone Case", "휴대폰 케이스", "Shock-absorbing clear case.", 15_000, 400),
        P("Screen Protector", "액정 보호 필름", "Tempered glass, pack of two.", 12_000, 500),
        P("Smart Watch", "스마트 워치", "Fitness tracking, heart rate and GPS.", 279_000, 35),
        P("Tablet Pen", "태블릿 펜", "Pressure-sensitive stylus with palm rejection.", 99_000, 55),
        P("External SSD 1TB", "외장 SSD 1TB", "USB 3.2 drive, up to 1,050 MB/s.", 149_000, 65),
        P("Wi-Fi Router", "와이파이 공유기", "Wi-Fi 6 router with four antennas.", 119_000, 40),
        P("Desk Lamp", "책상 스탠드", "LED lamp with adjustable colour temperature.", 45_000, 110),
        P("Office Chair", "사무용 의자", "Mesh chair with lumbar support.", 249_000, 20),
        P("Standing Desk", "스탠딩 책상", "Electric sit-stand desk with memory presets.", 459_000, 12),
        P("Notebook", "공책", "A5 dotted notebook, 160 pages.", 8_000, 600),
        P("Fountain Pen", "만년필", "Steel nib fountain pen with a converter.", 42_000, 75),
        P("Backpack", "백팩", "Water-repellent backpack with a laptop sleeve.", 89_000, 85),
        P("Travel Mug", "텀블러", "Vacuum-insulated stainless steel, 500 ml.", 28_000, 220),
        P("Electric Kettle", "전기 주전자", "1.7 L kettle with temperature control.", 59_000, 60),
        P("Rice Cooker", "전기밥솥", "Pressure rice cooker for six people.", 219_000, 30, featured: true),
        P("Air Fryer", "에어 프라이어", "5.5 L basket air fryer.", 129_000, 45),
        P("Coffee Grinder", "커피 그라인더", "Conical burr grinder with 40 settings.", 79_000, 50),
        P("Drip Coffee Maker", "커피 메이커", "Programmable drip brewer, 12 cups.", 99_000, 35),
        P("Frying Pan", "프라이팬", "28 cm non-stick pan for every hob.", 39_000, 140),
        P("Chef's Knife", "식칼", "20 cm stainless steel knife.", 55_000, 90),
        P("Cutting Board", "도마", "Bamboo board with a juice groove.", 22_000, 160),
        P("Kimchi Container", "김치통", "Airtight 5 L container.", 18_000, 210),
        P("Stone Pot", "뚝배기", "Earthenware pot for stews, 18 cm.", 16_000, 130),
        P("Green Tea", "녹차", "Jeju green tea leaves, 100 g.", 15_000, 300),
        P("Instant Ramen Pack", "라면 묶음", "Spicy instant noodles, pack of five.", 4_500, 1_000),
        P("Seaweed Snack", "김 스낵", "Roasted seasoned seaweed, 16 packs.", 9_900, 700),
        P("Honey Citron Tea", "유자차", "Citron and honey preserve, 1 kg.", 13_000, 260),
        P("Red Ginseng Extract", "홍삼 농축액", "Six-year-old red ginseng, 240 g.", 98_000, 70),
        P("Yoga Mat", "요가 매트", "6 mm non-slip mat with a strap.", 29_000, 180),
        P("Dumbbell Set", "덤벨 세트", "Adjustable dumbbells, 2 to 20 kg.", 189_000, 25),
        P("Running Shoes", "러닝화", "Lightweight trainers with a foam sole.", 139_000, 60),
        P("Hiking Boots", "등산화", "Waterproof boots for the mountains.", 179_000, 40),
        P("Umbrella", "우산", "Automatic folding umbrella.", 19_000, 350),
        P("Winter Padding Jacket", "겨울 패딩", "Down jacket with a detachable hood.", 199_000, 50),
        P("Cotton T-Shirt", "면 티셔츠", "Heavyweight organic cotton tee.", 25_000, 400),
        P("Wool Scarf", "울 목도리", "Merino wool scarf.", 39_000, 120),
        P("Sunglasses", "선글라스", "Polarised lenses with UV400.", 69_000, 80),
        P("Skin Toner", "스킨 토너", "Hydrating toner, 200 ml.", 24_000, 300),
        P("Sheet Mask Set", "마스크팩 세트", "Ten sheet masks with hyaluronic acid.", 15_000, 450),
        P("Sunscreen", "선크림", "SPF 50+ PA++++, 50 ml.", 18_000, 380),
        P("Humidifier", "가습기", "Ultrasonic humidifier, 4 L.", 69_000, 55),
        P("Robot Vacuum", "로봇 청소기", "Lidar navigation with auto-empty base.", 599_000, 15, featured: true),
        P("Air Purifier", "공기청정기", "HEPA filter for rooms up to 40 m².", 259_000, 30),
        P("Electric Blanket", "전기요", "Heated under-blanket with two zones.", 79_000, 65),
        P("Board Game", "보드게임", "Strategy game for two to five players.", 45_000, 90),
        P("Jigsaw Puzzle", "직소 퍼즐", "1,000 pieces: Gyeongbokgung Palace.", 22_000, 140),
        P("Hangul Calligraphy Set", "한글 서예 세트", "Brushes, ink stone and rice paper.", 36_000, 45),
    ];

    private static Product P(string name, string nameKo, string description, long price, int stock, bool featured = false) =>
        new() { Name = name, NameKo = nameKo, Description = description, Price = price, Stock = stock, Featured = featured };
}
