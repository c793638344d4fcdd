//! A hall's seat layout as an organizer uploads it (JSON rows or CSV), checked whole: every
//! problem is reported with the row it is on, so one upload fixes them all.

use std::collections::{HashMap, HashSet};

/// The largest hall one upload may describe.
pub const MAX_SEATS_PER_HALL: usize = 50_000;
/// The most problems one answer lists.
const MAX_PROBLEMS: usize = 50;
/// The most a grade's price may be (KRW).
pub const MAX_SEAT_PRICE: i64 = 10_000_000;

/// One seat of an upload, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSeat {
    pub section: String,
    pub row: i64,
    pub number: i64,
    pub grade: String,
    pub x: Option<i64>,
    pub y: Option<i64>,
}

/// One seat of a checked layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutSeat {
    pub section: String,
    pub row: i32,
    pub number: i32,
    pub grade: String,
    pub x: Option<i32>,
    pub y: Option<i32>,
}

/// A problem with one row of an upload (rows count from 1, after a CSV header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutProblem {
    pub row: usize,
    pub message: String,
}

/// A checked layout: grades with prices, and seats with unique labels and positions, each of
/// a known grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HallLayout {
    grades: Vec<(String, i64)>,
    seats: Vec<LayoutSeat>,
}

impl HallLayout {
    /// Checks grades and seats together; on failure, every problem found (up to 50), by row.
    pub fn parse(
        grades: Vec<(String, i64)>,
        seats: Vec<RawSeat>,
    ) -> Result<Self, Vec<LayoutProblem>> {
        let mut problems = Vec::new();
        let mut prices = HashMap::new();
        for (i, (grade, price)) in grades.iter().enumerate() {
            let grade = grade.trim();
            if grade.is_empty() || grade.chars().count() > 20 {
                problems.push(problem(i + 1, "a grade is named by 1 to 20 characters"));
            } else if !(0..=MAX_SEAT_PRICE).contains(price) {
                problems.push(problem(
                    i + 1,
                    format!("grade {grade}: a price is 0 to {MAX_SEAT_PRICE}"),
                ));
            } else if prices.insert(grade.to_owned(), *price).is_some() {
                problems.push(problem(i + 1, format!("grade {grade} is listed twice")));
            }
        }
        if grades.is_empty() {
            problems.push(problem(
                0,
                "a layout names at least one grade with its price",
            ));
        }
        if seats.is_empty() {
            problems.push(problem(0, "a layout has at least one seat"));
        }
        if seats.len() > MAX_SEATS_PER_HALL {
            problems.push(problem(
                0,
                format!("a hall has at most {MAX_SEATS_PER_HALL} seats"),
            ));
            return Err(problems);
        }
        let mut labels: HashMap<(String, i32, i32), usize> = HashMap::new();
        let mut spots: HashMap<(i32, i32), usize> = HashMap::new();
        let mut unknown_grades = HashSet::new();
        let mut checked = Vec::with_capacity(seats.len());
        for (i, seat) in seats.into_iter().enumerate() {
            let at = i + 1;
            let section = seat.section.trim().to_owned();
            let grade = seat.grade.trim().to_owned();
            let (Some(row), Some(number)) = (positive(seat.row), positive(seat.number)) else {
                problems.push(problem(
                    at,
                    "row and number are whole numbers from 1 to 10,000",
                ));
                continue;
            };
            if section.chars().count() > 40 {
                problems.push(problem(at, "a section is named by at most 40 characters"));
                continue;
            }
            if !prices.contains_key(&grade) {
                if unknown_grades.insert(grade.clone()) || problems.len() < MAX_PROBLEMS {
                    problems.push(problem(at, format!("unknown grade '{grade}'")));
                }
                continue;
            }
            let (x, y) = match (seat.x, seat.y) {
                (None, None) => (None, None),
                (Some(x), Some(y)) => match (coordinate(x), coordinate(y)) {
                    (Some(x), Some(y)) => (Some(x), Some(y)),
                    _ => {
                        problems.push(problem(at, "x and y are 0 to 100,000"));
                        continue;
                    }
                },
                _ => {
                    problems.push(problem(at, "a position has both x and y, or neither"));
                    continue;
                }
            };
            if let Some(first) = labels.insert((section.clone(), row, number), at) {
                problems.push(problem(
                    at,
                    format!("seat {section} row {row} number {number} is also on row {first}"),
                ));
                continue;
            }
            if let (Some(x), Some(y)) = (x, y) {
                if let Some(first) = spots.insert((x, y), at) {
                    problems.push(problem(
                        at,
                        format!("position ({x}, {y}) overlaps the seat on row {first}"),
                    ));
                    continue;
                }
            }
            checked.push(LayoutSeat {
                section,
                row,
                number,
                grade,
                x,
                y,
            });
        }
        if !problems.is_empty() {
            problems.truncate(MAX_PROBLEMS);
            return Err(problems);
        }
        let grades = grades
            .into_iter()
            .map(|(g, p)| (g.trim().to_owned(), p))
            .collect();
        Ok(Self {
            grades,
            seats: checked,
        })
    }

    /// Reads `section,row,number,grade,x,y` lines (the header first; x and y may be empty).
    pub fn parse_csv(grades: Vec<(String, i64)>, csv: &str) -> Result<Self, Vec<LayoutProblem>> {
        let mut lines = csv
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let header: Vec<String> = match lines.next() {
            Some((_, h)) => h.split(',').map(|c| c.trim().to_lowercase()).collect(),
            None => return Err(vec![problem(0, "the CSV is empty")]),
        };
        let column = |name: &str| header.iter().position(|c| c == name);
        let (Some(c_row), Some(c_number), Some(c_grade)) =
            (column("row"), column("number"), column("grade"))
        else {
            return Err(vec![problem(
                1,
                "the header names the columns: section,row,number,grade,x,y (section, x and y optional)",
            )]);
        };
        let (c_section, c_x, c_y) = (column("section"), column("x"), column("y"));
        let mut seats = Vec::new();
        let mut problems = Vec::new();
        for (line, text) in lines {
            let cells: Vec<&str> = text.split(',').map(str::trim).collect();
            let cell = |c: Option<usize>| c.and_then(|c| cells.get(c)).copied().unwrap_or("");
            let int = |c: Option<usize>| -> Result<Option<i64>, ()> {
                match cell(c) {
                    "" => Ok(None),
                    v => v.parse().map(Some).map_err(|_| ()),
                }
            };
            let (Ok(Some(row)), Ok(Some(number)), Ok(x), Ok(y)) =
                (int(Some(c_row)), int(Some(c_number)), int(c_x), int(c_y))
            else {
                problems.push(problem(
                    line + 1,
                    "row and number are whole numbers; x and y whole numbers or empty",
                ));
                continue;
            };
            seats.push(RawSeat {
                section: cell(c_section).to_owned(),
                row,
                number,
                grade: cell(Some(c_grade)).to_owned(),
                x,
                y,
            });
        }
        if !problems.is_empty() {
            problems.truncate(MAX_PROBLEMS);
            return Err(problems);
        }
        // Data rows are numbered as the file's lines are (the header is line 1).
        Self::parse(grades, seats).map_err(|mut found| {
            for p in &mut found {
                if p.row > 0 {
                    p.row += 1;
                }
            }
            found
        })
    }

    pub fn grades(&self) -> &[(String, i64)] {
        &self.grades
    }

    pub fn seats(&self) -> &[LayoutSeat] {
        &self.seats
    }

    pub fn price_of(&self, grade: &str) -> Option<i64> {
        self.grades
            .iter()
            .find(|(g, _)| g == grade)
            .map(|(_, p)| *p)
    }

    /// The grid the hall spans: the highest row and seat number.
    pub fn extent(&self) -> (i32, i32) {
        let rows = self.seats.iter().map(|s| s.row).max().unwrap_or(1);
        let cols = self.seats.iter().map(|s| s.number).max().unwrap_or(1);
        (rows, cols)
    }
}

fn problem(row: usize, message: impl Into<String>) -> LayoutProblem {
    LayoutProblem {
        row,
        message: message.into(),
    }
}

fn positive(n: i64) -> Option<i32> {
    (1..=10_000).contains(&n).then_some(n as i32)
}

fn coordinate(n: i64) -> Option<i32> {
    (0..=100_000).contains(&n).then_some(n as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(section: &str, row: i64, number: i64, grade: &str, at: Option<(i64, i64)>) -> RawSeat {
        RawSeat {
            section: section.into(),
            row,
            number,
            grade: grade.into(),
            x: at.map(|a| a.0),
            y: at.map(|a| a.1),
        }
    }

    fn grades() -> Vec<(String, i64)> {
        vec![("VIP".into(), 150_000), ("R".into(), 110_000)]
    }

    #[test]
    fn a_good_layout_is_accepted() {
        let layout = HallLayout::parse(
            grades(),
            vec![
                seat("Floor", 1, 1, "VIP", Some((0, 0))),
                seat("Floor", 1, 2, "VIP", Some((12, 0))),
                seat("Balcony", 1, 1, "R", None),
            ],
        )
        .unwrap();
        assert_eq!(layout.seats().len(), 3);
        assert_eq!(layout.price_of("R"), Some(110_000));
        assert_eq!(layout.extent(), (1, 2));
    }

    #[test]
    fn every_problem_is_named_by_its_row() {
        let problems = HallLayout::parse(
            grades(),
            vec![
                seat("Floor", 1, 1, "VIP", Some((0, 0))),
                seat("Floor", 1, 1, "VIP", Some((12, 0))),
                seat("Floor", 1, 2, "GOLD", None),
                seat("Floor", 1, 3, "R", Some((0, 0))),
                seat("Floor", 0, 4, "R", None),
                seat("Floor", 1, 5, "R", Some((5, -1))),
                seat("Floor", 1, 6, "R", Some((50, 0))),
            ],
        )
        .unwrap_err();
        let rows: Vec<usize> = problems.iter().map(|p| p.row).collect();
        assert_eq!(rows, [2, 3, 4, 5, 6], "{problems:?}");
        assert!(problems[0].message.contains("also on row 1"));
        assert!(problems[1].message.contains("unknown grade 'GOLD'"));
        assert!(problems[2].message.contains("overlaps the seat on row 1"));
    }

    #[test]
    fn grades_are_checked_too() {
        let problems = HallLayout::parse(
            vec![("VIP".into(), -1), ("R".into(), 1), ("R".into(), 2)],
            vec![seat("", 1, 1, "R", None)],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(HallLayout::parse(vec![], vec![]).is_err());
    }

    #[test]
    fn csv_rows_are_numbered_as_lines_of_the_file() {
        let csv =
            "section,row,number,grade,x,y\nFloor,1,1,VIP,0,0\nFloor,1,1,VIP,12,0\nFloor,1,2,R,,\n";
        let problems = HallLayout::parse_csv(grades(), csv).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].row, 3, "{problems:?}");
        let ok = HallLayout::parse_csv(grades(), "row,number,grade\n1,1,R\n1,2,R\n").unwrap();
        assert_eq!(ok.seats()[1].section, "");
        let bad = HallLayout::parse_csv(grades(), "row,number,grade\n1,x,R\n").unwrap_err();
        assert_eq!(bad[0].row, 2);
        assert!(HallLayout::parse_csv(grades(), "a,b\n1,2\n").is_err());
    }

    #[test]
    fn fifteen_thousand_seats_parse() {
        let seats = (1..=100)
            .flat_map(|r| (1..=150).map(move |n| seat("", r, n, "R", Some((n * 12, r * 12)))))
            .collect();
        assert_eq!(
            HallLayout::parse(grades(), seats).unwrap().seats().len(),
            15_000
        );
    }
}
